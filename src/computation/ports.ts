// What a running computation needs from the rest of the system: where it records (store),
// where the primary's committed output goes, and who watches each epoch (analysis).

import type { EpochMetrics, EpochReport, InputRecord, SnapshotDelta, StateDigest, VmEnd } from '../drivers/types.js';
import type { StateDifference } from '../sync/compare.js';
import type { Verdict } from '../sync/vote.js';

export interface VmInfo {
  readonly id: string;
  readonly role: 'primary' | 'shadow';
  readonly profile: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface DivergenceRecord {
  readonly epoch: number;
  readonly vmId: string;
  readonly difference: StateDifference;
  /** XOR deltas (compressed) of up to maxDeltaPages differing pages. */
  readonly deltas: readonly { readonly page: number; readonly delta: Uint8Array }[];
  readonly inputMismatch?: { readonly expected: string; readonly got: string };
}

/** Something that happened to the computation, kept in its audit trail. */
export interface ComputationEvent {
  readonly epoch: number;
  readonly kind:
    | 'vote'
    | 'rollback'
    | 'refork'
    | 'drop-shadow'
    | 'checkpoint'
    | 'restore-verified'
    | 'restore-mismatch'
    | 'fault'
    | 'vm-end'
    | 'note';
  readonly vmId?: string;
  readonly message: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface CheckpointInfo {
  readonly id: string;
  readonly epoch: number;
  readonly verified: boolean;
  readonly storedPages: number;
  readonly totalPages: number;
  readonly digest: StateDigest;
  /** What the driver needs to find its own side of the checkpoint (e.g. a QEMU snapshot tag). */
  readonly driverState: Readonly<Record<string, string>>;
}

export interface ComputationRecorder {
  vmCreated(vm: VmInfo, epoch: number): void;
  vmEnded(vmId: string, end: VmEnd, epoch: number): void;
  inputs(records: readonly InputRecord[]): void;
  /** Everything one epoch barrier resolved: logged together (one transaction in the store). */
  epoch(record: {
    readonly epoch: number;
    readonly verified: boolean;
    readonly metrics: ReadonlyMap<string, EpochMetrics & { readonly lagMs: number }>;
    readonly divergences: readonly DivergenceRecord[];
  }): void;
  event(event: ComputationEvent): void;
  /** Stores only the changed pages (content-addressed); returns the checkpoint. */
  checkpoint(delta: SnapshotDelta, digest: StateDigest, verified: boolean): CheckpointInfo;
  /** Full page content of a stored checkpoint. */
  checkpointPage(checkpointId: string, page: number): Uint8Array;
  /** Bytes the differential log holds for this computation so far. */
  loggedBytes(): number;
}

/** Where the primary's verified output is delivered (the real stdout/stderr for the CLI). */
export interface OutputSink {
  write(stream: string, bytes: Uint8Array): void;
}

/** Everything an epoch resolution produced, for the analysis engine and progress displays. */
export interface EpochOutcome {
  readonly epoch: number;
  readonly reports: ReadonlyMap<string, EpochReport>;
  readonly differences: ReadonlyMap<string, StateDifference>;
  readonly verdict: Verdict;
  readonly lagMs: ReadonlyMap<string, number>;
}

export interface EpochObserver {
  /** Called once per resolved epoch; may ask the computation to act through its handle. */
  observe(outcome: EpochOutcome): void | Promise<void>;
}
