// The repository interface: everything shadowvm persists, as typed methods. No SQL leaves
// src/store; SQLite and PostgreSQL implement it from the same migrations.
// Methods are synchronous because checkpoint pages are read synchronously during a restore
// (RestoreTarget.readPage).

import type { Divergence, DivergenceId, EpochRecord, PageDelta, VerdictId, VerdictRecord, VerdictResolution } from '../difflog/types.js';
import type { DiversityProfile, InputRecord, Role, StateDigest, VmEnd } from '../drivers/types.js';

/** Any JSON value (configs, reports, audit details). */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** Milliseconds since the Unix epoch. */
export type Timestamp = number;

// ---- computations and VMs -----------------------------------------------------------------------

export const COMPUTATION_STATUSES = ['created', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type ComputationStatus = (typeof COMPUTATION_STATUSES)[number];

export interface NewComputation {
  /** Label for people (CLI, dashboard). */
  readonly name: string;
  /** What runs: a module path or image reference. */
  readonly image: string;
  /** The computation's configuration as given (validated by its owner before it gets here). */
  readonly config: Json;
}

export interface ComputationRow extends NewComputation {
  /** `c-` + 10 base32 characters. */
  readonly id: string;
  readonly status: ComputationStatus;
  /** The primary's exit code once it exited. */
  readonly exitCode: number | null;
  /** Final report (what was verified, predictions, interventions), once written. */
  readonly report: Json | null;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
}

export interface ComputationPatch {
  readonly status?: ComputationStatus;
  readonly exitCode?: number | null;
  readonly report?: Json | null;
}

export interface ComputationQuery {
  readonly status?: ComputationStatus;
  /** Newest first; default 50. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface ComputationRepository {
  create(input: NewComputation): ComputationRow;
  get(id: string): ComputationRow | null;
  list(query?: ComputationQuery): ComputationRow[];
  /** Throws ComputationNotFoundError for an unknown id. */
  update(id: string, patch: ComputationPatch): ComputationRow;
}

export type VmStatus = 'starting' | 'running' | 'ended';

export interface NewVm {
  readonly computationId: string;
  readonly vmId: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
}

export interface VmRecord extends NewVm {
  readonly status: VmStatus;
  readonly end: VmEnd | null;
  readonly startedAt: Timestamp;
  readonly endedAt: Timestamp | null;
}

export interface VmRepository {
  /** Registers a VM as starting; registering an id again (a VM re-created after rollback) restarts it. */
  create(input: NewVm): VmRecord;
  setStatus(computationId: string, vmId: string, status: Exclude<VmStatus, 'ended'>): void;
  end(computationId: string, vmId: string, end: VmEnd): void;
  list(computationId: string): VmRecord[];
}

// ---- differential log ---------------------------------------------------------------------------

/** One divergence of an epoch, with the deltas of (some of) its differing pages. */
export interface DivergenceAppend {
  readonly divergence: Divergence;
  readonly deltas: readonly Omit<PageDelta, 'divergenceId'>[];
}

/** Everything logged at one resolution of an epoch barrier; written in one transaction. */
export interface EpochAppend {
  readonly record: EpochRecord;
  readonly divergences: readonly DivergenceAppend[];
  /** The vote, when the replicas differed (an agreeing epoch has none). */
  readonly verdict?: Omit<VerdictRecord, 'resolution'>;
}

export interface AppendedEpoch {
  /** Ids of the appended divergences, in the order given. */
  readonly divergenceIds: readonly DivergenceId[];
  /** Id of the appended verdict, when one was given. */
  readonly verdictId: VerdictId | null;
}

export type StoredEpochRecord = EpochRecord & { readonly at: Timestamp };
export type StoredDivergence = Divergence & { readonly id: DivergenceId; readonly at: Timestamp };
export type StoredVerdict = VerdictRecord & { readonly id: VerdictId; readonly at: Timestamp };

/** Inclusive epoch bounds; either side open when absent. */
export interface EpochRange {
  readonly from?: number;
  readonly to?: number;
}

export interface DivergenceQuery extends EpochRange {
  /** Resume after this divergence id (the previous page's `next`). */
  readonly after?: DivergenceId;
  /** Default 100, at most 1000. */
  readonly limit?: number;
}

export interface Paged<T> {
  readonly items: readonly T[];
  /** Pass as `after` to get the next page; null when this was the last. */
  readonly next: DivergenceId | null;
}

export interface DiffLogRepository {
  appendEpoch(batch: EpochAppend): AppendedEpoch;
  /**
   * Epoch records in the order they were logged. An epoch re-run after a rollback appears once
   * per run, so the log keeps what happened before the rollback too.
   */
  readEpochs(computationId: string, range?: EpochRange): StoredEpochRecord[];
  /** Divergences in the order they were logged. */
  readDivergences(computationId: string, query?: DivergenceQuery): Paged<StoredDivergence>;
  /** The stored page deltas of one divergence, by page. */
  readPageDeltas(divergenceId: DivergenceId): PageDelta[];
  /** Verdicts in the order they were logged. */
  readVerdicts(computationId: string, range?: EpochRange): StoredVerdict[];
  /** Settles an undecided verdict (VerdictNotFoundError for an unknown id). */
  resolveVerdict(id: VerdictId, resolution: VerdictResolution): void;
}

// ---- input log ----------------------------------------------------------------------------------

export interface InputLogRepository {
  /** Appends records whose seqs continue the log exactly (InputLogOrderError otherwise). */
  append(computationId: string, records: readonly InputRecord[]): void;
  /** Records with seq ≥ `from`, in order, at most `limit` (default 1000). */
  read(computationId: string, from: number, limit?: number): InputRecord[];
  count(computationId: string): number;
}

// ---- checkpoints and content-addressed pages ----------------------------------------------------

/** One row of a checkpoint's page table: the page's content key, or null for an all-zero page. */
export interface PageTableEntry {
  readonly page: number;
  readonly key: string | null;
}

export interface PageContent {
  readonly key: string;
  readonly bytes: Uint8Array;
}

export interface NewCheckpoint {
  readonly computationId: string;
  readonly parentId: string | null;
  readonly epoch: number;
  readonly pageSize: number;
  readonly pageCount: number;
  readonly registers: Readonly<Record<string, string>>;
  readonly driverState: Readonly<Record<string, string>>;
  /** Digest over the full page table and registers (see src/checkpoints). */
  readonly rootDigest: string;
  /** The driver's digest of the state, needed to restore to it; null when not captured. */
  readonly digest: StateDigest | null;
}

export interface CheckpointRecord extends NewCheckpoint {
  /** `k-` + 10 base32 characters. */
  readonly id: string;
  /** Creation order within the computation, from 1. */
  readonly seq: number;
  readonly verified: boolean;
  readonly createdAt: Timestamp;
}

export interface CheckpointRepository {
  /**
   * Stores a checkpoint, the page-table rows that differ from its parent, and the page contents
   * (inserted only if their key is not stored yet), in one transaction.
   */
  save(checkpoint: NewCheckpoint, entries: readonly PageTableEntry[], pages: readonly PageContent[]): CheckpointRecord;
  get(id: string): CheckpointRecord | null;
  /** In creation order (parents before children). */
  list(computationId: string): CheckpointRecord[];
  /** The rows stored with the checkpoint itself (differences from its parent), by page. */
  entries(checkpointId: string): PageTableEntry[];
  markVerified(checkpointId: string): void;
  readPage(key: string): Uint8Array | null;
  /** Distinct pages stored and their bytes, over all computations. */
  pageStats(): { readonly pages: number; readonly bytes: number };
}

// ---- audit: events, actions, alerts and predictions --------------------------------------------

/** Something that happened to a computation that is not an action: its timeline. */
export interface NewEvent {
  readonly computationId: string;
  readonly vmId: string | null;
  readonly epoch: number | null;
  /** e.g. 'checkpoint', 'restore-verified', 'fault', 'vm-end', 'note' (the manager's vocabulary). */
  readonly kind: string;
  /** One line for people. */
  readonly message: string;
  readonly detail: Json | null;
}

export type StoredEvent = NewEvent & { readonly id: number; readonly at: Timestamp };

/** Who decided an action: the vote, the policy, or a person through the API or the CLI. */
export type ActionActor = 'vote' | 'policy' | 'api' | 'cli' | 'manager';

/** Why an action was taken: the verdict, prediction or request it answers. */
export type ActionCause =
  | {
      readonly kind: 'verdict';
      readonly epoch: number;
      readonly attempt: number;
      readonly verdict: string;
      readonly blamed: readonly string[];
    }
  | {
      readonly kind: 'prediction';
      /** The stored prediction's id (AuditRepository.appendPredictions). */
      readonly predictionId: number;
      /** The policy rule that turned it into this action, e.g. "levels.predict-failure" or "forecast.memory". */
      readonly rule: string;
      readonly level: string | null;
      readonly score: number;
    }
  | { readonly kind: 'request'; readonly reason: string };

/** An action actually carried out (or refused, rate-limited, dry-run): one row per action. */
export interface NewAction {
  readonly computationId: string;
  readonly epoch: number;
  /** e.g. 'rollback', 'refork', 'retry', 'drop-shadow', 'raise-memory', 'alert' (the manager's vocabulary). */
  readonly kind: string;
  /** The VM acted on (the rolled-back primary, the re-forked shadow, the alert's subject); null for the computation. */
  readonly vmId: string | null;
  readonly actor: ActionActor;
  readonly cause: ActionCause;
  /** One line for people: what was done and why. */
  readonly reason: string;
  /** 'applied' | 'failed' | 'skipped' | 'rate-limited' | 'dry-run' | 'queued'. */
  readonly status: string;
  /** One line: what came of it. */
  readonly outcome: string;
  readonly dryRun: boolean;
}

export type StoredAction = NewAction & { readonly id: number; readonly at: Timestamp };

/** An alert that fired; it stays open until resolved, and says why when it is. */
export interface NewAlert {
  readonly computationId: string;
  readonly vmId: string;
  /** The policy level or forecast it is about (e.g. "predict-failure", "forecast-memory"). */
  readonly name: string;
  readonly severity: string;
  readonly epoch: number;
  readonly reason: string;
}

export interface StoredAlert extends NewAlert {
  readonly id: number;
  readonly firedAt: Timestamp;
  readonly resolvedEpoch: number | null;
  readonly resolvedAt: Timestamp | null;
  /** Why it was resolved (score back under the exit threshold, replica re-forked, computation ended). */
  readonly resolution: string | null;
}

export type PredictionLevel = 'warning' | 'failure';

/** A detector's score crossing a threshold for one VM at one epoch. */
export interface Prediction {
  readonly computationId: string;
  /** The replica the prediction is about: for a state difference, the one the vote blamed. */
  readonly vmId: string;
  readonly epoch: number;
  readonly detector: string;
  readonly score: number;
  readonly level: PredictionLevel;
}

export type StoredPrediction = Prediction & { readonly id: number; readonly at: Timestamp };

export interface AuditRepository {
  appendEvent(event: NewEvent): StoredEvent;
  /** In the order they were appended. */
  listEvents(computationId: string): StoredEvent[];
  appendAction(action: NewAction): StoredAction;
  /** In the order they were appended. */
  listActions(computationId: string): StoredAction[];
  /** Returns the stored predictions (with their ids), in the order given. */
  appendPredictions(predictions: readonly Prediction[]): StoredPrediction[];
  listPredictions(computationId: string, range?: EpochRange): StoredPrediction[];
  openAlert(alert: NewAlert): StoredAlert;
  /** Resolves an open alert (AlertNotFoundError for an unknown id; resolving twice keeps the first). */
  resolveAlert(id: number, resolution: { readonly epoch: number; readonly reason: string }): void;
  /** Every alert of the computation, open ones included, in the order they fired. */
  listAlerts(computationId: string): StoredAlert[];
}

// ---- the store ----------------------------------------------------------------------------------

/**
 * Size of what the differential log holds for a computation: payload bytes (8 per number, the
 * length of each text and blob), not file pages, so that it compares with a full capture.
 */
export interface LogStats {
  readonly epochs: number;
  readonly divergences: number;
  readonly pageDeltas: number;
  readonly metricsBytes: number;
  readonly divergenceBytes: number;
  readonly deltaBytes: number;
  /** metricsBytes + divergenceBytes + deltaBytes. */
  readonly bytesLogged: number;
  /** Bytes a full capture would have stored: `memoryBytes` summed over every VM at every logged epoch. */
  readonly fullCaptureBytes: number;
}

export interface Store {
  /** The database file (or connection string) behind the store. */
  readonly location: string;
  readonly computations: ComputationRepository;
  readonly vms: VmRepository;
  readonly difflog: DiffLogRepository;
  readonly inputs: InputLogRepository;
  readonly checkpoints: CheckpointRepository;
  readonly audit: AuditRepository;
  stats(computationId: string): LogStats;
  close(): void;
}
