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

/** Each numeric feature of a VM, by the name detectors and policies know it by. */
const VM_FEATURES = {
  epochWallMs: (v: VmFeatures) => v.epochWallMs,
  wallTimeRatio: (v: VmFeatures) => v.wallTimeRatio,
  instructionsPerSecond: (v: VmFeatures) => v.instructionsPerSecond,
  memoryBytes: (v: VmFeatures) => v.memoryBytes,
  memoryGrowthBytes: (v: VmFeatures) => v.memoryGrowthBytes,
  syscalls: (v: VmFeatures) => v.syscalls,
} as const;

/** Each numeric feature of a pair, prefixed "diff." (they are charged to the shadow). */
const PAIR_FEATURES = {
  'diff.differingPages': (p: PairFeatures) => p.differingPages,
  'diff.diffBytes': (p: PairFeatures) => p.diffBytes,
  'diff.outputMismatches': (p: PairFeatures) => p.outputMismatches,
  'diff.syscallMismatches': (p: PairFeatures) => p.syscallMismatches,
  'diff.shadowLagMs': (p: PairFeatures) => p.shadowLagMs,
} as const;

/** A driver's own counters (EpochMetrics.extra) are features named with this prefix. */
export const EXTRA_FEATURE_PREFIX = 'extra.';

/** Every feature name the engine scores, but the drivers' extras. */
export const FEATURE_NAMES: readonly string[] = [...Object.keys(VM_FEATURES), ...Object.keys(PAIR_FEATURES)];

/** Whether the engine scores a feature of this name (a driver's extra, whatever it is called, counts). */
export function isFeatureName(name: string): boolean {
  return FEATURE_NAMES.includes(name) || (name.startsWith(EXTRA_FEATURE_PREFIX) && name.length > EXTRA_FEATURE_PREFIX.length);
}

/** The numeric features of a VM, by name; extras as "extra.<name>". */
export function vmFeatureValues(v: VmFeatures): Record<string, number> {
  const values: Record<string, number> = {};
  for (const [name, read] of Object.entries(VM_FEATURES)) values[name] = read(v);
  for (const [name, value] of Object.entries(v.extra)) values[`${EXTRA_FEATURE_PREFIX}${name}`] = value;
  return values;
}

/** The numeric features of a pair, by name. */
export function pairFeatureValues(p: PairFeatures): Record<string, number> {
  const values: Record<string, number> = {};
  for (const [name, read] of Object.entries(PAIR_FEATURES)) values[name] = read(p);
  return values;
}
