// The QEMU snapshots a driver took for its computation's checkpoints, so that a restored or
// re-forked VM finds the disk and snapshot to start from (and, in lockstep, the recording the
// snapshot lies in).
import { rmSync } from 'node:fs';
import type { RestoreTarget } from '../types.js';
import { QemuRequestError } from './errors.js';

/** A QEMU internal snapshot the driver took (manager checkpoints carry only page digests). */
export interface CheckpointEntry {
  readonly epoch: number;
  readonly pageHashes: Uint8Array;
  readonly tag: string;
  /** A copy of the VM's overlay holding the snapshot. */
  readonly disk: string;
  /** Lockstep: index of the recording the snapshot lies in (its log position is inside it). */
  readonly recording?: number;
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

  /** The latest snapshot in recording `recording` taken at an epoch `usable` accepts. */
  latestIn(recording: number, usable: (epoch: number) => boolean): CheckpointEntry | undefined {
    return [...this.entries].reverse().find((entry) => entry.recording === recording && usable(entry.epoch));
  }
}
