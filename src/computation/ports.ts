// What a running computation needs from the rest of the system: where it records (store),
// where the primary's committed output goes, and who watches each epoch (progress, publishing).

import type { VerdictId, VerdictResolution } from '../difflog/types.js';
import type { EpochMetrics, EpochReport, InputRecord, SnapshotDelta, StateDigest, VmEnd } from '../drivers/types.js';
import type { NewAction, NewAlert, StoredAction, StoredAlert } from '../store/types.js';
import type { StateDifference } from '../sync/compare.js';
import type { Verdict } from '../sync/vote.js';

export interface VmInfo {
  readonly id: string;
  readonly role: 'primary' | 'shadow';
  readonly profile: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** How one shadow's state differed from the primary's at one resolution of an epoch. */
export interface DivergenceRecord {
  readonly epoch: number;
  readonly attempt: number;
  readonly vmId: string;
  /** The replica it was compared with (the primary). */
  readonly peerVmId: string;
  readonly difference: StateDifference;
  /** XOR deltas (compressed) of up to maxDeltaPages differing pages. */
  readonly deltas: readonly { readonly page: number; readonly delta: Uint8Array }[];
  /** Bytes that differ inside the pages whose deltas were read. */
  readonly diffBytes: number;
  readonly inputMismatch?: { readonly expected: string; readonly got: string };
}

/** The vote at one resolution of an epoch whose replicas differed, with VM ids. */
export interface VerdictEntry {
  readonly epoch: number;
  readonly attempt: number;
  readonly kind: 'shadows-diverged' | 'primary-diverged' | 'undecided';
  readonly blamed: readonly string[];
  readonly majority: readonly string[];
  readonly differing: readonly string[];
}

/** Something that happened to the computation that is not an action: its timeline. */
export interface ComputationEvent {
  readonly epoch: number;
  readonly kind: 'checkpoint' | 'restore-verified' | 'fault' | 'vm-end' | 'note';
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

export type ActionEntry = Omit<NewAction, 'computationId'>;
export type AlertEntry = Omit<NewAlert, 'computationId'>;

export interface ComputationRecorder {
  vmCreated(vm: VmInfo, epoch: number): void;
  vmEnded(vmId: string, end: VmEnd, epoch: number): void;
  inputs(records: readonly InputRecord[]): void;
  /** Everything one resolution of a barrier found: logged together (one transaction in the store). */
  epoch(record: {
    readonly epoch: number;
    readonly attempt: number;
    readonly verified: boolean;
    readonly metrics: ReadonlyMap<string, EpochMetrics & { readonly lagMs: number }>;
    readonly divergences: readonly DivergenceRecord[];
    readonly verdict?: VerdictEntry;
  }): VerdictId | null;
  /** A later attempt settled an undecided verdict. */
  resolveVerdict(id: VerdictId, resolution: VerdictResolution): void;
  event(event: ComputationEvent): void;
  /** One row per action carried out (or refused), with its cause and actor. */
  action(action: ActionEntry): StoredAction;
  openAlert(alert: AlertEntry): StoredAlert;
  resolveAlert(id: number, epoch: number, reason: string): void;
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

/** Everything an epoch resolution produced, for progress displays and publishing. */
export interface EpochOutcome {
  readonly epoch: number;
  readonly attempt: number;
  readonly reports: ReadonlyMap<string, EpochReport>;
  /** How each shadow (by VM id) differed from the primary. */
  readonly differences: ReadonlyMap<string, StateDifference>;
  readonly verdict: Verdict;
  /** VM ids the vote blamed (empty when the replicas agreed or no majority decided). */
  readonly blamed: readonly string[];
  readonly lagMs: ReadonlyMap<string, number>;
}

export interface EpochObserver {
  /** Called once per resolved epoch, after it was logged. */
  observe(outcome: EpochOutcome): void;
}
