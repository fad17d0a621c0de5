// What one lockstep computation shares between its VMs: the chain of recordings (a new one after
// each rollback of the primary) and the checkpoints taken on them, so a restored or re-forked VM
// knows which log to replay from which snapshot.
import { rmSync } from 'node:fs';
import type { RestoreTarget } from '../types.js';
import { QemuRequestError } from './errors.js';
import type { RuntimeDir } from './process.js';
import { type GenerationStart, LockstepTimeline } from './timeline.js';

/** A QEMU internal snapshot the driver took (manager checkpoints carry only page digests). */
export interface CheckpointEntry {
  readonly epoch: number;
  readonly pageHashes: Uint8Array;
  readonly tag: string;
  /** A copy of the VM's overlay holding the snapshot. */
  readonly disk: string;
  /** Lockstep: index of the recording the snapshot lies in (its log position is inside it). */
  readonly generation?: number;
}

/**
 * Snapshots kept per computation. The manager restores only its last verified checkpoint, which is
 * the newest or close to it; each copy holds a full RAM image, on tmpfs.
 */
const keptCheckpoints = 3;

export class CheckpointRegistry {
  private readonly entries: CheckpointEntry[] = [];

  add(entry: CheckpointEntry): void {
    this.entries.push(entry);
    for (const old of this.entries.splice(0, Math.max(0, this.entries.length - keptCheckpoints))) rmSync(old.disk, { force: true });
  }

  /** The snapshot a restore target names: by tag when the manager kept it, else by epoch + RAM. */
  find(target: RestoreTarget): CheckpointEntry {
    const tag = target.driverState.tag;
    const found = [...this.entries]
      .reverse()
      .find((entry) =>
        tag !== undefined
          ? entry.tag === tag
          : entry.epoch === target.epoch && Buffer.compare(entry.pageHashes, target.digest.pageHashes) === 0,
      );
    if (found === undefined) throw new QemuRequestError(`no QEMU snapshot matches the checkpoint of epoch ${target.epoch}`);
    return found;
  }

  /** The latest snapshot in recording `generation` taken at an epoch `usable` accepts. */
  latestIn(generation: number, usable: (epoch: number) => boolean): CheckpointEntry | undefined {
    return [...this.entries].reverse().find((entry) => entry.generation === generation && usable(entry.epoch));
  }
}

interface GenerationWaiter {
  readonly index: number;
  resolve(timeline: LockstepTimeline): void;
  reject(error: Error): void;
}

export class Generations {
  private readonly runtime: RuntimeDir;
  private readonly list: LockstepTimeline[] = [];
  private readonly waiters = new Set<GenerationWaiter>();
  private failure: Error | undefined;

  constructor(runtime: RuntimeDir) {
    this.runtime = runtime;
  }

  /** Log file of the next recording (its recorder is started before the generation opens). */
  nextRrFile(): string {
    return this.runtime.file(`rr-${this.list.length}.log`);
  }

  /** Opens the next recording; replayers waiting for it are released. */
  open(startEpoch: number, start?: GenerationStart): LockstepTimeline {
    const timeline = new LockstepTimeline(this.nextRrFile(), this.list.length, startEpoch, start);
    this.list.push(timeline);
    for (const waiter of [...this.waiters]) {
      if (waiter.index === timeline.index) {
        this.waiters.delete(waiter);
        waiter.resolve(timeline);
      }
    }
    return timeline;
  }

  get(index: number): LockstepTimeline {
    const timeline = this.list[index];
    if (timeline === undefined) throw new QemuRequestError(`no lockstep recording ${index}`);
    return timeline;
  }

  get latest(): LockstepTimeline | undefined {
    return this.list.at(-1);
  }

  /** The recording that follows `timeline`, once its primary opened it. */
  after(timeline: LockstepTimeline): Promise<LockstepTimeline> {
    const next = this.list[timeline.index + 1];
    if (next !== undefined) return Promise.resolve(next);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.add({ index: timeline.index + 1, resolve, reject }));
  }

  /** The computation is over: nobody waits for a recording any more. */
  fail(reason: string): void {
    this.failure = new QemuRequestError(`lockstep computation closed: ${reason}`);
    for (const waiter of this.waiters) waiter.reject(this.failure);
    this.waiters.clear();
    for (const timeline of this.list) timeline.fail(reason);
  }
}
