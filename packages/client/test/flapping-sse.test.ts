import { flappingSuite } from './flapping.ts';

// The same 2,000 messages each way as over WebSocket, through a proxy that cuts every connection.
flappingSuite('sse', false, 2000);
