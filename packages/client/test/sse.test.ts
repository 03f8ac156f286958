import { FakeEventSource } from './fake-eventsource.ts';
import { transportSuite } from './scenarios.ts';

const skip = false;
// Node 20: the fetch-based reader.
transportSuite('sse', skip);
// The browser path: an EventSource, which hides HTTP statuses (a 401 is found by probing).
transportSuite('sse', skip, { EventSource: FakeEventSource }, ' (EventSource)');
