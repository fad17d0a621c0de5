// Worker side of an ONNX model: owns the inference session and answers one request at a time
// through shared memory, so that scoring can stay synchronous on the main thread (ONNX Runtime's
// run() is only asynchronous). Every answer, including "loaded", goes through the control slot:
// the main thread waits for it blocked, and would not see a message posted to it meanwhile.

import { workerData } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { type OnnxChannel, Slot } from './onnx-channel.js';

const channel = workerData as OnnxChannel;
const control = new Int32Array(channel.control);
const input = new Float32Array(channel.input);
const output = new Float64Array(channel.output);
const message = new Uint8Array(channel.message);

function answer(state: number): void {
  Atomics.store(control, 0, state);
  Atomics.notify(control, 0);
}

function fail(text: string): void {
  const bytes = new TextEncoder().encode(text.slice(0, 400));
  message.fill(0);
  message.set(bytes.subarray(0, message.length));
  answer(Slot.Failed);
}

const firstLine = (error: unknown): string => (error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error));

async function serve(): Promise<void> {
  // Imported here, so that a broken install fails the load at once rather than its timeout.
  let ort: typeof Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (error) {
    fail(`onnxruntime-node cannot be loaded: ${firstLine(error)}`);
    return;
  }
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(new Uint8Array(channel.model));
  } catch (error) {
    fail(`model cannot be loaded: ${firstLine(error)}`);
    return;
  }
  if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
    await session.release();
    fail(`model must take exactly one input (has ${session.inputNames.length}) and give one output`);
    return;
  }
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  answer(Slot.Idle);
  for (;;) {
    Atomics.wait(control, 0, Slot.Idle);
    const state = Atomics.load(control, 0);
    if (state === Slot.Stop) break;
    if (state !== Slot.Request) continue;
    try {
      const feeds = { [inputName]: new ort.Tensor('float32', input.slice(), [1, input.length]) };
      const result = await session.run(feeds);
      const data = result[outputName]?.data;
      output[0] = data !== undefined && data.length > 0 ? Number(data[0]) : Number.NaN;
      answer(Slot.Done);
    } catch (error) {
      fail(`inference failed: ${firstLine(error)}`);
    }
  }
  await session.release();
  answer(Slot.Released);
}

void serve();
