import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryQueue } from './delivery-queue.js';

describe('DeliveryQueue', () => {
  it('drops the oldest waiting item when full, counting every drop', async () => {
    const delivered: string[] = [];
    const warnings: string[] = [];
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const queue = new DeliveryQueue<string>(
      'test sink',
      async (item) => {
        await gate;
        delivered.push(item);
      },
      { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1, queueSize: 2 },
      (line) => warnings.push(line),
    );
    for (const item of ['a', 'b', 'c', 'd', 'e']) queue.push(item);
    assert.deepEqual(queue.stats(), { delivered: 0, failed: 0, dropped: 2, pending: 3 });
    assert.deepEqual(warnings, [
      'test sink: queue full (2), dropped the oldest alert (1 dropped so far)',
      'test sink: queue full (2), dropped the oldest alert (2 dropped so far)',
    ]);
    open();
    assert.equal(await queue.flush(5000), true);
    assert.deepEqual(delivered, ['a', 'd', 'e'], 'in order, the one in flight kept');
  });

  it('keeps order across retries', async () => {
    const attempts: string[] = [];
    const queue = new DeliveryQueue<string>(
      'test sink',
      async (item) => {
        attempts.push(item);
        if (attempts.filter((attempt) => attempt === item).length < 2) throw new Error('not yet');
      },
      { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 4, queueSize: 10 },
      () => undefined,
    );
    queue.push('first');
    queue.push('second');
    assert.equal(await queue.flush(5000), true);
    assert.deepEqual(attempts, ['first', 'first', 'second', 'second']);
    assert.equal(queue.stats().delivered, 2);
  });
});
