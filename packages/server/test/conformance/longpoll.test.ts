import { deliveryScenarios } from './scenarios.ts';
import { connectPoll } from '../helpers/poll-link.ts';

deliveryScenarios('longpoll', connectPoll);
