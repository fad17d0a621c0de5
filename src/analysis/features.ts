// What the analysis engine watches, per epoch: one vector per VM (its own resource and timing
// behaviour) and one per (primary, shadow) pair (how the shadow's state differs from the primary's).
// Every field is a plain number so each can feed its own detector.

import type { EpochMetrics } from '../drivers/types.js';

/** One VM's behaviour over one epoch. */
export interface VmFeatures {
  readonly vm: string;
  readonly role: 'primary' | 'shadow';
  readonly epoch: number;
  /** Wall time the guest ran this epoch, excluding the barrier wait (EpochMetrics.runMs). */
  readonly epochWallMs: number;
  /** epochWallMs / the primary's epochWallMs in the same epoch (1 for the primary itself). */
  readonly wallTimeRatio: number;
  /** Guest events (or instructions) per second of run time. */
  readonly instructionsPerSecond: number;
  /** Guest memory in use, in pages. */
  readonly memoryBytes: number;
  /** Pages gained since the previous epoch (negative when memory shrank). */
  readonly memoryGrowthBytes: number;
  /** Memory ceiling of the VM in pages, if known: the memory forecaster predicts crossing it. */
  readonly memoryLimitBytes?: number;
  readonly syscalls: number;
  /** Driver-specific counters (EpochMetrics.extra), by name. */
  readonly extra: Readonly<Record<string, number>>;
}

/** How one shadow differs from its primary at one epoch (from the differential log). */
export interface PairFeatures {
  readonly primary: string;
  readonly shadow: string;
  readonly epoch: number;
  /** Pages whose digests differ. */
  readonly differingPages: number;
  /** Bytes that differ inside those pages (0 if pages were only compared by digest). */
  readonly diffBytes: number;
  /** Output streams whose running digests differ. */
  readonly outputMismatches: number;
  /** Input/syscall requests the shadow made that the primary did not make at that point. */
  readonly syscallMismatches: number;
  /** How far the shadow's arrival at the epoch barrier trailed the primary's. */
  readonly shadowLagMs: number;
}

/** Everything one computation produced at one epoch. */
export interface EpochFeatures {
  readonly computation: string;
  readonly epoch: number;
  readonly vms: readonly VmFeatures[];
  readonly pairs: readonly PairFeatures[];
}

/** Builds a VM's vector from its driver metrics; `previousMemoryBytes` from the last epoch. */
export function vmFeaturesFromMetrics(args: {
  vm: string;
  role: 'primary' | 'shadow';
  epoch: number;
  metrics: EpochMetrics;
  primaryRunMs: number;
  previousMemoryBytes?: number;
  memoryLimitBytes?: number;
}): VmFeatures {
  const { metrics } = args;
  const seconds = metrics.runMs / 1000;
  return {
    vm: args.vm,
    role: args.role,
    epoch: args.epoch,
    epochWallMs: metrics.runMs,
    wallTimeRatio: args.primaryRunMs > 0 ? metrics.runMs / args.primaryRunMs : 1,
    instructionsPerSecond: seconds > 0 ? metrics.instructions / seconds : 0,
    memoryBytes: metrics.memoryBytes,
    memoryGrowthBytes: metrics.memoryBytes - (args.previousMemoryBytes ?? metrics.memoryBytes),
    ...(args.memoryLimitBytes !== undefined ? { memoryLimitBytes: args.memoryLimitBytes } : {}),
    syscalls: metrics.syscalls,
    extra: metrics.extra ?? {},
  };
}

/** The numeric features of a VM, by name; extras as "extra.<name>". */
export function vmFeatureValues(v: VmFeatures): Record<string, number> {
  const values: Record<string, number> = {
    epochWallMs: v.epochWallMs,
    wallTimeRatio: v.wallTimeRatio,
    instructionsPerSecond: v.instructionsPerSecond,
    memoryBytes: v.memoryBytes,
    memoryGrowthBytes: v.memoryGrowthBytes,
    syscalls: v.syscalls,
  };
  for (const [name, value] of Object.entries(v.extra)) values[`extra.${name}`] = value;
  return values;
}

/** The numeric features of a pair, by name, prefixed "diff." (they are charged to the shadow). */
export function pairFeatureValues(p: PairFeatures): Record<string, number> {
  return {
    'diff.differingPages': p.differingPages,
    'diff.diffBytes': p.diffBytes,
    'diff.outputMismatches': p.outputMismatches,
    'diff.syscallMismatches': p.syscallMismatches,
    'diff.shadowLagMs': p.shadowLagMs,
  };
}
