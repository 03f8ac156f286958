import { transportSuite } from './scenarios.ts';

transportSuite('websocket', false);
