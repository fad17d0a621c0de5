// An ONNX model that maps a window of N floats (input shape [1, N]) to one score, and the Detector
// that feeds it a series. The model runs in a worker; scoring waits on shared memory for the
// answer, which keeps the Detector contract synchronous. One model serves every detector that
// names it (each keeps its own window), so a computation loads a model once, not once per VM.

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { waitWhile } from '../wait-while.js';
import type { Detector, DetectorState } from './detector.js';
import { OnnxModelError } from './errors.js';
import { type OnnxChannel, Slot } from './onnx-channel.js';
import { RingBuffer } from './ring.js';
import { finiteArray, parseState } from './state.js';

const LOAD_TIMEOUT_MS = 30_000;
const RELEASE_TIMEOUT_MS = 5000;

export interface OnnxModelOptions {
  /** N: values per model input. */
  readonly window: number;
  /** Longest wait for one inference before giving up. */
  readonly timeoutMs?: number;
  /**
   * A model nobody scored with for this long releases its worker, and the next score loads it
   * again: nothing tells the engine when its computation ended, and a worker holds a session and
   * its threads.
   */
  readonly idleMs?: number;
}

/** A session loaded in its own worker. */
class Session {
  private readonly control: Int32Array;
  private readonly input: Float32Array;
  private readonly output: Float64Array;
  private readonly message: Uint8Array;

  private constructor(
    private readonly worker: Worker,
    channel: OnnxChannel,
  ) {
    this.control = new Int32Array(channel.control);
    this.input = new Float32Array(channel.input);
    this.output = new Float64Array(channel.output);
    this.message = new Uint8Array(channel.message);
  }

  /** Starts the worker and blocks until it loaded the model; throws OnnxModelError if it could not. */
  static load(model: Uint8Array, window: number): Session {
    const channel: OnnxChannel = {
      control: new SharedArrayBuffer(4),
      input: new SharedArrayBuffer(4 * window),
      output: new SharedArrayBuffer(8),
      message: new SharedArrayBuffer(512),
      model,
    };
    Atomics.store(new Int32Array(channel.control), 0, Slot.Loading);
    const worker = new Worker(new URL('./onnx-worker.js', import.meta.url), { workerData: channel });
    // A model left open must not keep a finished process alive.
    worker.unref();
    const session = new Session(worker, channel);
    if (!waitWhile(session.control, 0, Slot.Loading, LOAD_TIMEOUT_MS)) {
      void worker.terminate();
      throw new OnnxModelError(`the model did not load within ${LOAD_TIMEOUT_MS} ms`);
    }
    // A worker that failed ends on its own.
    if (Atomics.load(session.control, 0) === Slot.Failed) throw new OnnxModelError(session.failure());
    return session;
  }

  score(values: ArrayLike<number>, timeoutMs: number): number {
    this.input.set(values);
    Atomics.store(this.control, 0, Slot.Request);
    Atomics.notify(this.control, 0);
    if (!waitWhile(this.control, 0, Slot.Request, timeoutMs)) throw new OnnxModelError(`no answer within ${timeoutMs} ms`);
    const state = Atomics.load(this.control, 0);
    Atomics.store(this.control, 0, Slot.Idle);
    if (state === Slot.Failed) throw new OnnxModelError(this.failure());
    return this.output[0]!;
  }

  /**
   * Asks the worker to free its session and waits until it did; it then ends by itself. It is
   * terminated only if it does not answer: terminating a worker while it releases its native
   * session aborts the whole process (onnxruntime throws from native code).
   */
  release(): void {
    Atomics.store(this.control, 0, Slot.Stop);
    Atomics.notify(this.control, 0);
    if (!waitWhile(this.control, 0, Slot.Stop, RELEASE_TIMEOUT_MS)) void this.worker.terminate();
  }

  private failure(): string {
    return new TextDecoder().decode(this.message).replace(/\0+$/, '');
  }
}

export class OnnxModel {
  private session: Session | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly bytes: Uint8Array,
    readonly window: number,
    private readonly timeoutMs: number,
    private readonly idleMs: number,
  ) {}

  /** Loads the model (a path or its bytes), blocking until it is ready; throws OnnxModelError if it is unusable. */
  static open(model: string | Uint8Array, options: OnnxModelOptions): OnnxModel {
    if (!Number.isInteger(options.window) || options.window < 1)
      throw new OnnxModelError(`window must be a positive integer, got ${options.window}`);
    let bytes: Uint8Array;
    try {
      bytes = typeof model === 'string' ? readFileSync(model) : model;
    } catch {
      throw new OnnxModelError(`cannot read model file ${String(model)}`);
    }
    const opened = new OnnxModel(bytes, options.window, options.timeoutMs ?? 10_000, options.idleMs ?? 30_000);
    opened.load();
    return opened;
  }

  /** The model's first output for `values` (exactly `window` of them, oldest first). */
  score(values: ArrayLike<number>): number {
    const session = this.session ?? this.load();
    this.idleTimer?.refresh();
    return session.score(values, this.timeoutMs);
  }

  /** Frees the worker now; a later score loads the model again. */
  close(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.session?.release();
    this.session = undefined;
  }

  private load(): Session {
    this.session = Session.load(this.bytes, this.window);
    this.idleTimer = setTimeout(() => this.close(), this.idleMs).unref();
    return this.session;
  }
}

/** Scores a series with an ONNX model over its last `window` points; the first window-1 score 0. */
export class OnnxDetector implements Detector {
  readonly name = 'onnx';
  private readonly values: RingBuffer;

  constructor(private readonly model: OnnxModel) {
    this.values = new RingBuffer(model.window);
  }

  update(value: number): number {
    this.values.push(value);
    if (!this.values.full) return 0;
    const score = this.model.score(this.values.toArray());
    return Number.isNaN(score) ? 0 : Math.min(1, Math.max(0, score));
  }

  save(): DetectorState {
    return { detector: this.name, data: { window: this.values.toArray() } };
  }

  restore(state: DetectorState): void {
    this.values.fill(parseState(this.name, state, z.object({ window: finiteArray })).window);
  }
}
