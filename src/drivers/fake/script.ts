// What a fake guest does, as data: how long it runs, when it takes inputs, how it ends, which of
// its replicas fail where. The fake driver is for tests only: it makes every situation of the
// loop (a fault at any point, a replica that dies mid-epoch, a restore) reproducible in
// milliseconds, with a page size other than 4096 so nothing above the drivers may assume one.

import { z } from 'zod';
import { CAPABILITIES } from '../types.js';

/** A contract the fake breaks on purpose, to prove the contract suite catches it. */
export const FLAWS = ['ignores-feed', 'stale-digest', 'unverified-restore', 'kill-not-idempotent', 'events-out-of-order'] as const;
export type Flaw = (typeof FLAWS)[number];

const Where = z.strictObject({
  /** Replica name: "primary", "shadow1"… */
  replica: z.string(),
  /** Which incarnation (1 = the first; a rollback or re-fork makes the next). */
  generation: z.number().int().min(1).default(1),
  epoch: z.number().int().min(1),
});

export const FakeScriptSchema = z.strictObject({
  /** Bytes per page of the fake's memory and digests. */
  pageSize: z.number().int().min(64).max(65536).default(1024),
  /** Pages of memory (the first holds the guest's counters). */
  pages: z.number().int().min(2).max(4096).default(16),
  /** The guest exits after this many epochs. */
  epochs: z.number().int().min(1).default(6),
  exitCode: z.number().int().min(0).max(255).default(0),
  /** The guest takes one input (8 random bytes) every N epochs; 0: never. */
  inputEvery: z.number().int().min(0).default(1),
  /** Run time of one epoch, in ms (0: as fast as the event loop goes). */
  epochMs: z.number().min(0).default(0),
  /** Replicas whose host fails during that epoch: gone with an error, no report. */
  crashes: z.array(Where).default([]),
  /**
   * Bit flips by a replica's host at the end of that epoch (a bad DIMM): every incarnation of the
   * replica gets them, or only the generation named.
   */
  hostFaults: z
    .array(
      z.strictObject({
        replica: z.string(),
        generation: z.number().int().min(1).optional(),
        epoch: z.number().int().min(1),
        address: z.number().int().min(0),
        bit: z.number().int().min(0).max(7),
      }),
    )
    .default([]),
  /** What the driver offers (default: every capability). */
  capabilities: z.array(z.enum(CAPABILITIES)).default([...CAPABILITIES]),
  flaw: z.enum(FLAWS).optional(),
});
export type FakeScript = z.infer<typeof FakeScriptSchema>;
export type FakeScriptInput = z.input<typeof FakeScriptSchema>;
