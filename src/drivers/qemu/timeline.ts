// Lockstep coordination of one computation: the recording primary publishes the instruction count
// at which each epoch ended, and replaying shadows stop at exactly that count. Epochs are
// instruction counts, not wall time, so every replica is compared at the same guest instant.
import { closeSync, openSync, writeSync } from 'node:fs';
import { QemuRequestError } from './errors.js';

// QEMU 7.2 writes its log header (format version + 8 spare bytes) only when the recorder exits;
// a shadow that replays the log while it is being recorded needs it up front.
const replayHeader = Buffer.from('00e0200c0000000000000000', 'hex');

interface Waiter {
  resolve(icount: number | undefined): void;
  reject(error: Error): void;
}

export class LockstepTimeline {
  readonly rrFile: string;
  private readonly boundaries = new Map<number, number>();
  private readonly waiters = new Map<number, Waiter[]>();
  private endedAfter: number | undefined;
  private failure: Error | undefined;

  constructor(rrFile: string) {
    this.rrFile = rrFile;
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
    for (const waiter of this.waiters.get(epoch) ?? []) waiter.resolve(icount);
    this.waiters.delete(epoch);
  }

  /** The primary's guest ended in `epoch`: later epochs never come. */
  end(epoch: number): void {
    this.endedAfter = epoch;
    for (const [waited, list] of this.waiters) {
      if (waited > epoch) for (const waiter of list) waiter.resolve(undefined);
    }
  }

  /** The primary is gone: shadows waiting for it stop waiting. */
  fail(reason: string): void {
    this.failure = new QemuRequestError(`lockstep primary gone: ${reason}`);
    for (const list of this.waiters.values()) for (const waiter of list) waiter.reject(this.failure);
    this.waiters.clear();
  }

  /** Instruction count at the end of `epoch`, or undefined when the primary ended before it. */
  boundary(epoch: number): Promise<number | undefined> {
    const known = this.boundaries.get(epoch);
    if (known !== undefined) return Promise.resolve(known);
    if (this.endedAfter !== undefined && epoch > this.endedAfter) return Promise.resolve(undefined);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(epoch) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(epoch, list);
    });
  }
}
