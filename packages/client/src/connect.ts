/** The SDK's entry point. */
import { Client } from './Client.ts';
import { resolveOptions, type ClientOptions } from './options.ts';

/**
 * Create a client and start connecting. Returns at once, so that listeners can be attached before
 * the first events arrive; `await client.whenConnected()` waits for the link.
 */
export function connect(options: ClientOptions): Client {
  const client = new Client(resolveOptions(options));
  void client.start();
  return client;
}
