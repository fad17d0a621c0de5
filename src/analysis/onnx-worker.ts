// Worker side of the ONNX detector: owns the inference session and answers one request at a
// time through shared memory, so the detector's update() can stay synchronous (ONNX Runtime's
// run() is only asynchronous).

import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { type OnnxChannel, Slot } from './onnx-channel.js';

const channel = workerData as OnnxChannel;
const control = new Int32Array(channel.control);
const input = new Float32Array(channel.input);
const output = new Float64Array(channel.output);
const message = new Uint8Array(channel.message);

function writeMessage(text: string): void {
  const bytes = new TextEncoder().encode(text.slice(0, 400));
  message.fill(0);
  message.set(bytes.subarray(0, message.length));
}

async function serve(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(new Uint8Array(channel.model));
  } catch (error) {
    parentPort?.postMessage({ error: `model cannot be loaded: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` });
    return;
  }
  if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
    parentPort?.postMessage({ error: `model must take exactly one input (has ${session.inputNames.length}) and give one output` });
    return;
  }
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  parentPort?.postMessage({ ready: true });
  for (;;) {
    Atomics.wait(control, 0, Slot.Idle);
    const state = Atomics.load(control, 0);
    if (state === Slot.Stop) break;
    if (state !== Slot.Request) continue;
    try {
      const feeds = { [inputName]: new ort.Tensor('float32', input.slice(), [1, input.length]) };
      const result = await session.run(feeds);
      const data = result[outputName]?.data;
      const first = data !== undefined && data.length > 0 ? Number(data[0]) : Number.NaN;
      output[0] = first;
      Atomics.store(control, 0, Slot.Done);
    } catch (error) {
      writeMessage(`inference failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      Atomics.store(control, 0, Slot.Failed);
    }
    Atomics.notify(control, 0);
  }
  await session.release();
  parentPort?.postMessage({ released: true });
}

void serve();
