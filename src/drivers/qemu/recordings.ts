// Lockstep coordination through recordings: the recording primary publishes the instruction count
// at which each epoch ended, and replaying VMs stop at exactly that count. Epochs are instruction
// counts, not wall time, so every replica is compared at the same guest instant. A rollback ends a
// recording: the restored primary replays it up to where it ended and then records the next one,
// starting from a snapshot that replaying VMs load to follow it. One lockstep computation shares
// the chain of its recordings (a new one after each rollback of the primary) between its VMs.
import { closeSync, openSync, writeSync } from 'node:fs';
import { QemuRequestError } from './errors.js';
import type { RuntimeDir } from './process.js';

// QEMU 7.2 writes its log header (format version + 8 spare bytes) only when the recorder exits;
// a VM that replays the log while it is being recorded needs it up front.
const replayHeader = Buffer.from('00e0200c0000000000000000', 'hex');

/** Where a recording's replayers start: a qcow2 holding an internal snapshot (none: boot). */
export interface RecordingStart {
  readonly disk: string;
  readonly tag: string;
}

/** What a replayer learns about an epoch of the recording it follows. */
export type Boundary =
  | { readonly kind: 'icount'; readonly icount: number }
  /** The guest powered off in an earlier epoch: nothing more will run. */
  | { readonly kind: 'guest-ended' }
  /** The recorder was stopped before this epoch (rollback): the next recording has it. */
  | { readonly kind: 'superseded' };

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class Recording {
  readonly rrFile: string;
  readonly index: number;
  /** Epoch at which the recording starts (0: boot). */
  readonly startEpoch: number;
  readonly start: RecordingStart | undefined;
  private readonly boundaries = new Map<number, number>();
  private readonly waiters = new Map<number, Waiter<Boundary>[]>();
  private closed: { after: number; kind: 'guest-ended' | 'superseded' } | undefined;
  private failure: Error | undefined;

  constructor(rrFile: string, index: number, startEpoch: number, start?: RecordingStart) {
    this.rrFile = rrFile;
    this.index = index;
    this.startEpoch = startEpoch;
    this.start = start;
  }

  /** Makes the log replayable while the primary still records it. */
  writeHeader(): void {
    const fd = openSync(this.rrFile, 'r+');
    try {
      writeSync(fd, replayHeader, 0, replayHeader.length, 0);
    } finally {
      closeSync(fd);
    }
  }

  publish(epoch: number, icount: number): void {
    this.boundaries.set(epoch, icount);
    this.settle(epoch, { kind: 'icount', icount });
  }

  /** The guest powered off in `epoch`: later epochs never come. */
  guestEnded(epoch: number): void {
    this.close(epoch, 'guest-ended');
  }

  /** True when the guest powered off during `epoch` of this recording. */
  endedIn(epoch: number): boolean {
    return this.closed?.kind === 'guest-ended' && this.closed.after === epoch;
  }

  /** The recorder stopped after its last published epoch; later epochs belong to the next recording. */
  supersede(): void {
    const last = Math.max(this.startEpoch, ...this.boundaries.keys());
    this.close(last, 'superseded');
  }

  /** Nothing will follow (the driver closed): waiting replayers stop waiting. */
  fail(reason: string): void {
    this.failure = new QemuRequestError(`lockstep recording gone: ${reason}`);
    for (const list of this.waiters.values()) for (const waiter of list) waiter.reject(this.failure);
    this.waiters.clear();
  }

  /** How epoch `epoch` ends in this recording, once known. */
  boundary(epoch: number): Promise<Boundary> {
    const known = this.boundaries.get(epoch);
    if (known !== undefined) return Promise.resolve({ kind: 'icount', icount: known });
    if (this.closed !== undefined && epoch > this.closed.after) return Promise.resolve({ kind: this.closed.kind });
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(epoch) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(epoch, list);
    });
  }

  private close(after: number, kind: 'guest-ended' | 'superseded'): void {
    if (this.closed !== undefined) return;
    this.closed = { after, kind };
    for (const [epoch, list] of this.waiters) {
      if (epoch > after) for (const waiter of list) waiter.resolve({ kind });
    }
    for (const epoch of [...this.waiters.keys()]) if (epoch > after) this.waiters.delete(epoch);
  }

  private settle(epoch: number, boundary: Boundary): void {
    for (const waiter of this.waiters.get(epoch) ?? []) waiter.resolve(boundary);
    this.waiters.delete(epoch);
  }
}

/** The recordings of one lockstep computation, in the order its primaries recorded them. */
export class Recordings {
  private readonly runtime: RuntimeDir;
  private readonly list: Recording[] = [];
  private readonly waiters = new Map<Waiter<Recording>, number>();
  private failure: Error | undefined;

  constructor(runtime: RuntimeDir) {
    this.runtime = runtime;
  }

  /** Log file of the next recording (its recorder is started before the recording opens). */
  nextRrFile(): string {
    return this.runtime.file(`rr-${this.list.length}.log`);
  }

  /** Opens the next recording; replayers waiting for it are released. */
  open(startEpoch: number, start?: RecordingStart): Recording {
    const recording = new Recording(this.nextRrFile(), this.list.length, startEpoch, start);
    this.list.push(recording);
    for (const [waiter, index] of [...this.waiters]) {
      if (index === recording.index) {
        this.waiters.delete(waiter);
        waiter.resolve(recording);
      }
    }
    return recording;
  }

  get(index: number): Recording {
    const recording = this.list[index];
    if (recording === undefined) throw new QemuRequestError(`no lockstep recording ${index}`);
    return recording;
  }

  get latest(): Recording | undefined {
    return this.list.at(-1);
  }

  /** The recording that follows `recording`, once its primary opened it. */
  after(recording: Recording): Promise<Recording> {
    const next = this.list[recording.index + 1];
    if (next !== undefined) return Promise.resolve(next);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.set({ resolve, reject }, recording.index + 1));
  }

  /** The computation is over: nobody waits for a recording any more. */
  fail(reason: string): void {
    this.failure = new QemuRequestError(`lockstep computation closed: ${reason}`);
    for (const waiter of this.waiters.keys()) waiter.reject(this.failure);
    this.waiters.clear();
    for (const recording of this.list) recording.fail(reason);
  }
}
