// What a computation is asked to do: validated once at the edge (CLI flags or API body).

import { z } from 'zod';
import { EpochBoundsSchema } from '../drivers/spec.js';
import type { Fault } from '../drivers/types.js';

export const PlannedFaultSchema = z.strictObject({
  /** "primary", "shadow1", "shadow2"… */
  target: z.string().regex(/^(primary|shadow[1-9][0-9]*)$/),
  epoch: z.number().int().min(1),
  fault: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('bitflip'), address: z.number().int().min(0).optional(), bit: z.number().int().min(0).max(7) }),
    z.strictObject({ kind: z.literal('corrupt-input'), seq: z.number().int().min(0) }),
  ]),
});
export type PlannedFault = z.infer<typeof PlannedFaultSchema>;

export const ComputationConfigSchema = z.strictObject({
  shadows: z.number().int().min(0).max(16),
  /** Diversity profile of each shadow in turn (cycled); the primary takes the driver's first. */
  shadowProfiles: z.array(z.string()).default([]),
  epochs: EpochBoundsSchema,
  checkpointEvery: z.number().int().min(1),
  memoryLimitBytes: z.number().int().positive(),
  maxEpochs: z.number().int().positive().optional(),
  timeoutMs: z.number().positive().optional(),
  faults: z.array(PlannedFaultSchema).default([]),
  /** Rollbacks of the same epoch before the shadows that keep disagreeing are dropped. */
  maxRetriesPerEpoch: z.number().int().min(0).default(2),
  /** Page deltas stored per divergence (the count of differing pages is always stored). */
  maxDeltaPages: z.number().int().min(0).default(64),
});
export type ComputationConfig = z.infer<typeof ComputationConfigSchema>;

export const DEFAULT_CONFIG: ComputationConfig = {
  shadows: 2,
  shadowProfiles: [],
  epochs: { events: 100_000_000, syscalls: 0, maxEpochMs: 250 },
  checkpointEvery: 4,
  memoryLimitBytes: 1024 * 2 ** 20,
  faults: [],
  maxRetriesPerEpoch: 2,
  maxDeltaPages: 64,
};

/** A QEMU guest's RAM is a file on tmpfs hashed every epoch: its default is kept small. */
export const DEFAULT_QEMU_MEMORY_BYTES = 128 * 2 ** 20;

/** Where a planned bit flip lands when no address was given: a fixed spot inside used memory. */
export function defaultFaultAddress(memoryBytes: number, epoch: number): number {
  // Golden-ratio stepping spreads injections over memory deterministically across epochs.
  const fraction = (0.5 + epoch * 0.618033988749895) % 1;
  return Math.floor(fraction * Math.max(1, memoryBytes - 1));
}

export function plannedFaultFor(planned: PlannedFault, memoryBytes: number): Fault {
  const { fault } = planned;
  if (fault.kind === 'corrupt-input') return fault;
  return { kind: 'bitflip', bit: fault.bit, address: fault.address ?? defaultFaultAddress(memoryBytes, planned.epoch) };
}
