// Lockstep coordination of one recording ("generation"): the recording primary publishes the
// instruction count at which each epoch ended, and replaying VMs stop at exactly that count.
// Epochs are instruction counts, not wall time, so every replica is compared at the same guest
// instant. A rollback ends a generation: the restored primary replays it up to where it ended and
// then records the next one, starting from a snapshot that replaying VMs load to follow it.
import { closeSync, openSync, writeSync } from 'node:fs';
import { QemuRequestError } from './errors.js';

// QEMU 7.2 writes its log header (format version + 8 spare bytes) only when the recorder exits;
// a VM that replays the log while it is being recorded needs it up front.
const replayHeader = Buffer.from('00e0200c0000000000000000', 'hex');

/** Where a generation's replayers start: a qcow2 holding an internal snapshot (none: boot). */
export interface GenerationStart {
  readonly disk: string;
  readonly tag: string;
}

/** What a replayer learns about an epoch of the generation it follows. */
export type Boundary =
  | { readonly kind: 'icount'; readonly icount: number }
  /** The guest powered off in an earlier epoch: nothing more will run. */
  | { readonly kind: 'guest-ended' }
  /** The recorder was stopped before this epoch (rollback): the next generation has it. */
  | { readonly kind: 'superseded' };

interface Waiter {
  resolve(boundary: Boundary): void;
  reject(error: Error): void;
}

export class LockstepTimeline {
  readonly rrFile: string;
  readonly index: number;
  /** Epoch at which the recording starts (0: boot). */
  readonly startEpoch: number;
  readonly start: GenerationStart | undefined;
  private readonly boundaries = new Map<number, number>();
  private readonly waiters = new Map<number, Waiter[]>();
  private closed: { after: number; kind: 'guest-ended' | 'superseded' } | undefined;
  private failure: Error | undefined;

  constructor(rrFile: string, index: number, startEpoch: number, start?: GenerationStart) {
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

  /** The recorder stopped after its last published epoch; later epochs belong to the next generation. */
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
