// Tiny ONNX models for tests, hand-built as protobuf bytes: the project needs no tool to make a
// model, and a test can say exactly what its model computes.

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
export function meanAbsModel(n: number): Uint8Array {
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
