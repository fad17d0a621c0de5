// The records of the differential log. Nothing here is a full state capture: each record says how
// one replica's state differed from another's at one epoch (pairwise), which replica the vote
// blamed for it, or what every VM measured during the epoch.

import type { EpochMetrics } from '../drivers/types.js';

/** One resolution of an epoch barrier: whether every shadow agreed, and what each VM measured. */
export interface EpochRecord {
  readonly computationId: string;
  readonly epoch: number;
  /**
   * 1 for the first resolution of this barrier epoch; a recovery (rollback, retry) re-resolves the
   * same epoch, and each later resolution counts up.
   */
  readonly attempt: number;
  /** True when every shadow's state matched the primary's at the end of the epoch. */
  readonly verified: boolean;
  /** Metrics by VM id, primary and shadows alike (they feed the analysis engine). */
  readonly metrics: Readonly<Record<string, EpochMetrics>>;
}

/** A register (or wasm global) whose value differs; `null` means absent on that side. */
export interface RegisterDiff {
  readonly name: string;
  readonly primary: string | null;
  readonly shadow: string | null;
}

/** An output stream whose running digest differs; `null` means the side never wrote to it. */
export interface OutputMismatch {
  readonly stream: string;
  readonly primary: string | null;
  readonly shadow: string | null;
}

/** The kind-specific part of a divergence. Page contents travel separately as `PageDelta`s. */
export type DivergenceDetail =
  | { readonly kind: 'pages' }
  | { readonly kind: 'registers'; readonly registers: readonly RegisterDiff[] }
  | { readonly kind: 'output'; readonly outputs: readonly OutputMismatch[] }
  /** One side ended, or ended differently, at this epoch: each end described ("exit 0", "running"). */
  | { readonly kind: 'exit'; readonly primary: string; readonly shadow: string }
  /** The shadow asked for an input the primary did not take at that point. */
  | { readonly kind: 'input'; readonly expected: string; readonly got: string };

/** What part of the state a divergence is about: 'pages' | 'registers' | 'output' | 'exit' | 'input'. */
export type DivergenceKind = DivergenceDetail['kind'];

/**
 * How two replicas' states differed at one epoch, in one respect: a fact about the pair, not a
 * blame (the epoch's verdict says which replica was at fault).
 */
export type Divergence = {
  readonly computationId: string;
  readonly epoch: number;
  readonly attempt: number;
  /** The replica compared (a shadow). */
  readonly vmId: string;
  /** The replica it was compared with (the primary). */
  readonly peerVmId: string;
  /** One line for people, e.g. "3 pages differ (first: 17)". */
  readonly summary: string;
  /**
   * Pages that differ (0 unless kind is 'pages'). May exceed the number of PageDelta records when
   * the logger caps the deltas kept per divergence.
   */
  readonly pageCount: number;
} & DivergenceDetail;

/** Identifies a logged divergence (assigned by the store when it is appended). */
export type DivergenceId = number;

/** The contents of one differing page: `encodePageDelta(primaryPage, shadowPage)`. */
export interface PageDelta {
  readonly divergenceId: DivergenceId;
  readonly page: number;
  readonly delta: Uint8Array;
}

/** What the vote made of an epoch whose replicas differed. */
export type VerdictKind = 'shadows-diverged' | 'primary-diverged' | 'undecided';

/** How a later attempt settled an undecided verdict. */
export interface VerdictResolution {
  /** The attempt that settled it. */
  readonly attempt: number;
  /**
   * `blamed`: re-executed, the replicas voted and these were at fault; `transient`: re-executed
   * replicas agreed, so the fault did not recur and stays unattributed; `dropped`: the shadows that
   * kept differing were dropped after the retry limit.
   */
  readonly kind: 'blamed' | 'transient' | 'dropped';
  readonly blamed: readonly string[];
}

/** The vote at one resolution of an epoch whose replicas differed (agreeing epochs have none). */
export interface VerdictRecord {
  readonly computationId: string;
  readonly epoch: number;
  readonly attempt: number;
  readonly kind: VerdictKind;
  /** VM ids the vote outvoted (empty when undecided). */
  readonly blamed: readonly string[];
  /** VM ids of the majority that outvoted them (empty when undecided). */
  readonly majority: readonly string[];
  /** VM ids whose states differed with no majority (undecided only). */
  readonly differing: readonly string[];
  /** Set once a later attempt settles an undecided verdict; null otherwise. */
  readonly resolution: VerdictResolution | null;
}

/** Identifies a logged verdict (assigned by the store). */
export type VerdictId = number;
