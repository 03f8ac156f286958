import { deliveryScenarios } from './scenarios.ts';
import { connectSse } from '../helpers/sse-link.ts';

deliveryScenarios('sse', connectSse);
