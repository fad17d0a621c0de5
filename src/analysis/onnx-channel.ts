// Shared-memory protocol between an ONNX model (main thread) and the worker that holds its session.
// The worker starts in Loading and answers Idle (ready) or Failed; then Request → Done | Failed,
// and Stop → Released once the session is freed, after which the worker ends on its own.

export const Slot = { Idle: 0, Request: 1, Done: 2, Failed: 3, Stop: 4, Loading: 5, Released: 6 } as const;

export interface OnnxChannel {
  /** Int32[1]: the Slot state. */
  readonly control: SharedArrayBuffer;
  /** Float32[window]: the values the model scores. */
  readonly input: SharedArrayBuffer;
  /** Float64[1]: the model's first output value. */
  readonly output: SharedArrayBuffer;
  /** UTF-8 error text when the state is Failed. */
  readonly message: SharedArrayBuffer;
  /** The model's bytes. */
  readonly model: Uint8Array;
}
