import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceId } from '@parley/protocol';
import { SendOrder } from '../../src/chat/SendOrder.ts';

const dev = 'd_1' as DeviceId;
const other = 'd_2' as DeviceId;

describe('SendOrder', () => {
  it('after a temporary failure, holds the device until the failed message is resent', () => {
    const order = new SendOrder();
    order.admit(dev, 'm1');
    order.failed(dev, 'm1');
    order.failed(dev, 'm2'); // a later failure does not move the block
    assert.throws(() => order.admit(dev, 'm2'), { code: 'UNAVAILABLE' });
    assert.throws(() => order.admit(dev, 'm3'), { code: 'UNAVAILABLE' });
    order.admit(other, 'x'); // other devices are not affected
    order.admit(dev, 'm1'); // the retry of the first failed message unblocks
    order.admit(dev, 'm2');
    assert.equal(order.size, 0);
  });

  it('forgets a block after its time to live', () => {
    const order = new SendOrder(-1);
    order.failed(dev, 'm1');
    order.admit(dev, 'm9');
    assert.equal(order.size, 0);
  });
});
