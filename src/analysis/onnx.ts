// Turns an ONNX model that maps a window of N floats (input shape [1, N]) to one score into a
// Detector. The model runs in a worker; update() waits on shared memory for the answer, which
// keeps the Detector contract synchronous. Call close() to end the worker.

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { waitWhile } from '../wait-while.js';
import type { Detector, DetectorState } from './detector.js';
import { OnnxModelError } from './errors.js';
import { type OnnxChannel, Slot } from './onnx-channel.js';
import { RingBuffer } from './ring.js';
import { finiteArray, parseState } from './state.js';

export interface OnnxDetectorOptions {
  /** N: values per model input. The first N-1 points score 0 (no full window yet). */
  readonly window: number;
  /** Detector name in states and reports; defaults to "onnx". */
  readonly name?: string;
  /** Longest wait for one inference before giving up. */
  readonly timeoutMs?: number;
}

export class OnnxDetector implements Detector {
  private readonly values: RingBuffer;
  private readonly control: Int32Array;
  private readonly input: Float32Array;
  private readonly output: Float64Array;
  private readonly message: Uint8Array;

  private constructor(
    readonly name: string,
    private readonly worker: Worker,
    channel: OnnxChannel,
    private readonly timeoutMs: number,
  ) {
    this.control = new Int32Array(channel.control);
    this.input = new Float32Array(channel.input);
    this.output = new Float64Array(channel.output);
    this.message = new Uint8Array(channel.message);
    this.values = new RingBuffer(this.input.length);
  }

  /** Loads the model (a path or its bytes) in a worker; rejects with OnnxModelError if unusable. */
  static async create(model: string | Uint8Array, options: OnnxDetectorOptions): Promise<OnnxDetector> {
    if (!Number.isInteger(options.window) || options.window < 1)
      throw new OnnxModelError(`window must be a positive integer, got ${options.window}`);
    let bytes: Uint8Array;
    try {
      bytes = typeof model === 'string' ? readFileSync(model) : model;
    } catch {
      throw new OnnxModelError(`cannot read model file ${String(model)}`);
    }
    const channel: OnnxChannel = {
      control: new SharedArrayBuffer(4),
      input: new SharedArrayBuffer(4 * options.window),
      output: new SharedArrayBuffer(8),
      message: new SharedArrayBuffer(512),
      model: bytes,
    };
    const worker = new Worker(new URL('./onnx-worker.js', import.meta.url), { workerData: channel });
    await new Promise<void>((resolveReady, reject) => {
      worker.once('message', (m: { ready?: boolean; error?: string }) => {
        if (m.ready === true) resolveReady();
        else {
          void worker.terminate();
          reject(new OnnxModelError(m.error ?? 'worker failed to start'));
        }
      });
      worker.once('error', (e) => reject(new OnnxModelError(`worker failed: ${e.message}`)));
    });
    return new OnnxDetector(options.name ?? 'onnx', worker, channel, options.timeoutMs ?? 10_000);
  }

  update(value: number): number {
    this.values.push(value);
    if (!this.values.full) return 0;
    for (let i = 0; i < this.input.length; i++) this.input[i] = this.values.at(i);
    Atomics.store(this.control, 0, Slot.Request);
    Atomics.notify(this.control, 0);
    if (!waitWhile(this.control, 0, Slot.Request, this.timeoutMs)) throw new OnnxModelError(`no answer within ${this.timeoutMs} ms`);
    const state = Atomics.load(this.control, 0);
    Atomics.store(this.control, 0, Slot.Idle);
    if (state === Slot.Failed) throw new OnnxModelError(new TextDecoder().decode(this.message).replace(/\0+$/, ''));
    const score = this.output[0]!;
    return Number.isNaN(score) ? 0 : Math.min(1, Math.max(0, score));
  }

  save(): DetectorState {
    return { detector: this.name, data: { window: this.values.toArray() } };
  }

  restore(state: DetectorState): void {
    this.values.fill(parseState(this.name, state, z.object({ window: finiteArray })).window);
  }

  /**
   * Ends the worker. The detector is unusable afterwards. Terminating the worker while it releases
   * its native session aborts the whole process (onnxruntime throws from native code): it is
   * asked to stop, and ended once it says it released the session (or has not within 5 s).
   */
  async close(): Promise<void> {
    const released = new Promise<void>((resolve) => {
      this.worker.on('message', (m: { released?: boolean }) => {
        if (m.released === true) resolve();
      });
      this.worker.once('exit', () => resolve());
    });
    Atomics.store(this.control, 0, Slot.Stop);
    Atomics.notify(this.control, 0);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([released, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}
