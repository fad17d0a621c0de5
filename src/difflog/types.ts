// The records of the differential log. Nothing here is a full state capture: each record says how
// a shadow differed from the primary at one epoch, or what every VM measured during it.

import type { EpochMetrics } from '../drivers/types.js';

/** One epoch of one computation: whether every shadow agreed, and what each VM measured. */
export interface EpochRecord {
  readonly computationId: string;
  readonly epoch: number;
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

/** How one shadow differed from the primary at one epoch, in one respect. */
export type Divergence = {
  readonly computationId: string;
  readonly epoch: number;
  /** The shadow that diverged. */
  readonly vmId: string;
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
