import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OnnxModelError } from './errors.js';
import { OnnxDetector, OnnxModel } from './onnx.js';
import { meanAbsModel } from './onnx-model.fixture.js';

test('an ONNX model scoring a window becomes a Detector with identical scores after restore', () => {
  const model = OnnxModel.open(meanAbsModel(4), { window: 4 });
  try {
    const detector = new OnnxDetector(model);
    const copy = new OnnxDetector(model);
    const series = [0.2, -0.4, 0.6, -0.8, 0.1, 0.3];
    const scores = series.map((v) => detector.update(v));
    assert.deepEqual(scores.slice(0, 3), [0, 0, 0]);
    assert.ok(Math.abs(scores[3]! - 0.5) < 1e-6, `mean |x| of the first window is 0.5, got ${scores[3]}`);
    assert.ok(Math.abs(scores[5]! - (0.6 + 0.8 + 0.1 + 0.3) / 4) < 1e-6);
    copy.restore(JSON.parse(JSON.stringify(detector.save())));
    assert.equal(copy.update(5), detector.update(5));
    assert.equal(detector.update(7), 1, 'scores are clamped to [0,1]');
  } finally {
    model.close();
  }
});

test('bytes that are not an ONNX model are rejected with a one-line error', () => {
  assert.throws(
    () => OnnxModel.open(new Uint8Array([1, 2, 3]), { window: 4 }),
    (e: unknown) => e instanceof OnnxModelError && /model cannot be loaded/.test(e.message) && !e.message.includes('\n'),
  );
});

/** Threads of this process: a loaded model's worker and ONNX Runtime's pool are among them. */
const threads = (): number => readdirSync('/proc/self/task').length;

/** The thread count once the workers of earlier tests, which end on their own, are gone. */
async function settledThreads(): Promise<number> {
  let count = threads();
  for (let previous = -1; count !== previous; count = threads()) {
    previous = count;
    await sleep(200);
  }
  return count;
}

test('a model nobody scores with releases its worker, and loads again for the next score', async () => {
  const model = OnnxModel.open(meanAbsModel(2), { window: 2 });
  model.close(); // ONNX Runtime's own first-use threads stay for the process: not this model's
  const before = await settledThreads();
  const idle = OnnxModel.open(meanAbsModel(2), { window: 2, idleMs: 200 });
  try {
    const loaded = threads();
    assert.ok(loaded > before, `the loaded model runs in threads of its own (${before} before, ${loaded} loaded)`);
    assert.equal(idle.score([0.5, -0.5]), 0.5);
    for (let waited = 0; threads() > before && waited < 5000; waited += 100) await sleep(100);
    assert.equal(threads(), before, 'idle, the model freed its worker and threads');
    assert.equal(idle.score([0.25, 0.75]), 0.5);
  } finally {
    idle.close();
  }
});
