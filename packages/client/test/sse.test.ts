import { FakeEventSource } from './fake-eventsource.ts';
import { missingEndpoint } from './helpers.ts';
import { transportSuite } from './scenarios.ts';

// Skips only while the server lacks the endpoint, and never on CI.
const skip = await missingEndpoint('/v1/sse');
// Node 20: the fetch-based reader.
transportSuite('sse', skip);
// The browser path: an EventSource, which hides HTTP statuses (a 401 is found by probing).
transportSuite('sse', skip, { EventSource: FakeEventSource }, ' (EventSource)');
