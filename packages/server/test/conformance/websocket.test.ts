import { deliveryScenarios } from './scenarios.ts';
import { connectWs } from '../helpers/ws-link.ts';

deliveryScenarios('websocket', connectWs);
