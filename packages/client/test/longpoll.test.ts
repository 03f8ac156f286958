import { transportSuite } from './scenarios.ts';

// Skips only while the server lacks the endpoint, and never on CI.
transportSuite('longpoll', false);
