import { flappingSuite } from './flapping.ts';
import { missingEndpoint } from './helpers.ts';

// Skips only while the server lacks the endpoint, and never on CI. 500 messages each way (see flapping.ts).
flappingSuite('sse', await missingEndpoint('/v1/sse'), 500);
