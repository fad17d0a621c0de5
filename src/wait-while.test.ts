import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { waitWhile } from './wait-while.js';

const waiting = 0;
const answered = 1;

// The other thread first sends a bare notify (an earlier exchange's, arriving late), and only
// later changes the flag: the wait must outlast the bare notify.
test('a notify without a changed flag does not end the wait', async () => {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const flag = new Int32Array(workerData);
     const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
     pause(50);
     Atomics.notify(flag, 0);
     pause(200);
     Atomics.store(flag, 0, ${answered});
     Atomics.notify(flag, 0);`,
    { eval: true, workerData: flag.buffer },
  );
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  assert.equal(waitWhile(flag, 0, waiting, 10_000), true);
  assert.equal(Atomics.load(flag, 0), answered);
  await exited;
});

test('an unchanged flag ends the wait at the timeout', () => {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(waitWhile(flag, 0, waiting, 30), false);
});
