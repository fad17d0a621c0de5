import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnnxModelError } from './errors.js';
import { OnnxDetector } from './onnx.js';

// A minimal protobuf writer, enough to hand-build an ONNX ModelProto for the test.
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (num: number, wire: number): number[] => varint(num * 8 + wire);
const int = (num: number, value: number): number[] => [...field(num, 0), ...varint(value)];
const bytes = (num: number, content: readonly number[]): number[] => [...field(num, 2), ...varint(content.length), ...content];
const str = (num: number, text: string): number[] => bytes(num, [...new TextEncoder().encode(text)]);

/** ONNX model: y = ReduceMean(Abs(x)) over all of x, x: float[1, n], opset 13. */
function meanAbsModel(n: number): Uint8Array {
  const tensorType = (dims: readonly number[]): number[] =>
    bytes(
      2,
      bytes(1, [
        ...int(1, 1),
        ...bytes(
          2,
          dims.flatMap((d) => bytes(1, int(1, d))),
        ),
      ]),
    );
  const abs = [...str(1, 'x'), ...str(2, 'a'), ...str(4, 'Abs')];
  const mean = [...str(1, 'a'), ...str(2, 'y'), ...str(4, 'ReduceMean'), ...bytes(5, [...str(1, 'keepdims'), ...int(3, 0), ...int(20, 2)])];
  const graph = [
    ...bytes(1, abs),
    ...bytes(1, mean),
    ...str(2, 'mean_abs'),
    ...bytes(11, [...str(1, 'x'), ...tensorType([1, n])]),
    ...bytes(12, [...str(1, 'y'), ...tensorType([])]),
  ];
  return new Uint8Array([...int(1, 7), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, 13)])]);
}

test('an ONNX model scoring a window becomes a Detector with identical scores after restore', async () => {
  const detector = await OnnxDetector.create(meanAbsModel(4), { window: 4 });
  const copy = await OnnxDetector.create(meanAbsModel(4), { window: 4 });
  try {
    const series = [0.2, -0.4, 0.6, -0.8, 0.1, 0.3];
    const scores = series.map((v) => detector.update(v));
    assert.deepEqual(scores.slice(0, 3), [0, 0, 0]);
    assert.ok(Math.abs(scores[3]! - 0.5) < 1e-6, `mean |x| of the first window is 0.5, got ${scores[3]}`);
    assert.ok(Math.abs(scores[5]! - (0.6 + 0.8 + 0.1 + 0.3) / 4) < 1e-6);
    copy.restore(JSON.parse(JSON.stringify(detector.save())));
    assert.equal(copy.update(5), detector.update(5));
    assert.equal(detector.update(7), 1, 'scores are clamped to [0,1]');
  } finally {
    await detector.close();
    await copy.close();
  }
});

test('bytes that are not an ONNX model are rejected with a one-line error', async () => {
  await assert.rejects(
    OnnxDetector.create(new Uint8Array([1, 2, 3]), { window: 4 }),
    (e: unknown) => e instanceof OnnxModelError && !e.message.includes('\n'),
  );
});
