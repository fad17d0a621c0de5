// What a driver is opened from: plain data, validated here, stored with the computation's row, so
// that another process (a restarted manager, an agent on another host) can open the same driver
// from the store alone. Nothing in a spec is a handle of this process (no file descriptor, no
// object); what only the opening process has travels in `OpenContext` (open.ts) instead.

import { z } from 'zod';

/** How epochs are cut (the wasm driver): by counted guest events, by syscalls, by time at inputs. */
export const EpochBoundsSchema = z.strictObject({
  events: z.number().int().min(0).max(0x7fffffff).describe('counted guest events per epoch (0: off)'),
  syscalls: z.number().int().min(0).describe('syscalls per epoch (0: off)'),
  maxEpochMs: z.number().min(0).describe('the primary ends an epoch at an input after this long (0: off)'),
});
export type EpochBounds = z.infer<typeof EpochBoundsSchema>;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const WasmSpecSchema = z.strictObject({
  kind: z.literal('wasm'),
  /** Absolute path of the guest module as given (not instrumented). */
  module: z.string().min(1),
  /** sha256 of the module: a reopened driver refuses a module that changed since. */
  moduleSha256: Sha256.optional(),
  /** The guest's argv after argv[0] (which is the module's file name). */
  args: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  /** Host directory the guest sees read-only as /input. */
  inputDir: z.string().min(1).optional(),
  /** Where the primary's stdin comes from: none, the opener's live descriptor, or a whole file. */
  stdin: z.union([z.literal('none'), z.literal('live'), z.strictObject({ file: z.string().min(1) })]),
  epochs: EpochBoundsSchema,
});
export type WasmSpec = z.infer<typeof WasmSpecSchema>;

export const QemuSpecSchema = z.strictObject({
  kind: z.literal('qemu'),
  mode: z.enum(['lockstep', 'free']),
  /** Guest image directory (`shadowvm guest build`'s output). */
  image: z.string().min(1),
  /** Extra kernel parameters of the guest's workload (e.g. shadowvm.rounds=20). */
  kernelArgs: z.array(z.string()),
  /** Wall-clock length of an epoch (free mode; lockstep until a VM has an epoch budget). */
  epochMs: z.number().positive().optional(),
});
export type QemuSpec = z.infer<typeof QemuSpecSchema>;

/** Any driver's spec: its kind picks the schema that validates the rest (open.ts). */
export const DriverSpecSchema = z.looseObject({ kind: z.string().min(1) });
export type DriverSpec = z.infer<typeof DriverSpecSchema>;
