import { transportSuite } from './scenarios.ts';
import { missingEndpoint } from './helpers.ts';

// Skips only while the server lacks the endpoint, and never on CI.
transportSuite('longpoll', await missingEndpoint('/v1/poll'));
