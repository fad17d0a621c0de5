// A computation as plain, versioned data: which driver opens what (drivers/spec.ts), and how the
// loop runs it. It is stored with the computation's row, so another process can reopen the
// computation from the store alone; a stored spec of an unknown version is refused, not guessed.

import { resolve } from 'node:path';
import { z } from 'zod';
import { DriverSpecSchema, type QemuSpec, type WasmSpec } from '../drivers/spec.js';
import { ShadowvmError } from '../errors.js';
import { type ComputationConfig, ComputationConfigSchema } from './config.js';

export const SPEC_VERSION = 1;

export const ComputationSpecSchema = z.strictObject({
  version: z.literal(SPEC_VERSION),
  driver: DriverSpecSchema,
  config: ComputationConfigSchema,
});
export type ComputationSpec = z.infer<typeof ComputationSpecSchema>;

export class SpecVersionError extends ShadowvmError {
  constructor(found: unknown) {
    super('spec-version', `this computation was stored as spec version ${String(found)}; this shadowvm reads version ${SPEC_VERSION}`);
  }
}

/** A stored spec, checked: its version first, then every field. */
export function parseComputationSpec(value: unknown): ComputationSpec {
  const version = (value as { version?: unknown } | null)?.version;
  if (version !== SPEC_VERSION) throw new SpecVersionError(version);
  return ComputationSpecSchema.parse(value);
}

/** The spec of a wasm computation (the CLI, the service, tests and benchmarks build theirs here). */
export function wasmComputation(input: {
  readonly module: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly inputDir?: string;
  readonly stdin?: WasmSpec['stdin'];
  readonly config: ComputationConfig;
}): ComputationSpec {
  const driver: WasmSpec = {
    kind: 'wasm',
    module: resolve(input.module),
    args: [...(input.args ?? [])],
    env: { ...input.env },
    ...(input.inputDir !== undefined ? { inputDir: resolve(input.inputDir) } : {}),
    stdin: input.stdin ?? 'none',
    epochs: input.config.epochs,
  };
  return { version: SPEC_VERSION, driver, config: input.config };
}

/** The spec of a QEMU computation; `epochMs` is an epoch's wall-clock length (the driver's default when absent). */
export function qemuComputation(input: {
  readonly mode: QemuSpec['mode'];
  readonly image: string;
  readonly kernelArgs?: readonly string[];
  readonly epochMs?: number;
  readonly config: ComputationConfig;
}): ComputationSpec {
  const driver: QemuSpec = {
    kind: 'qemu',
    mode: input.mode,
    image: resolve(input.image),
    kernelArgs: [...(input.kernelArgs ?? [])],
    ...(input.epochMs !== undefined ? { epochMs: input.epochMs } : {}),
  };
  return { version: SPEC_VERSION, driver, config: input.config };
}
