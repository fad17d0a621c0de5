// Opens a driver from its spec: the one door through which the CLI, the service (and an agent on
// another host) get a driver. Each kind registers how it validates its spec and opens it; the
// built-in kinds are wasm and qemu, a test may register its own (the fake driver).

import { resolve } from 'node:path';
import type { z } from 'zod';
import { ShadowvmError } from '../errors.js';
import { FreeDriver } from './qemu/free-driver.js';
import { guestImage, guestImageHash } from './qemu/guest-build.js';
import { LockstepDriver } from './qemu/lockstep-driver.js';
import { type DriverSpec, DriverSpecSchema, QemuSpecSchema, WasmSpecSchema } from './spec.js';
import type { Driver } from './types.js';
import { openWasmDriver } from './wasm/open.js';

/** What only the opening process has: never stored, never sent to another host. */
export interface OpenContext {
  /** The wasm primary's live stdin (spec stdin 'live'): a descriptor of this process. */
  readonly stdinFd?: number;
  /** Where instrumented modules are cached (default: the user's cache directory). */
  readonly cacheDir?: string;
}

/** Who a driver's image is, for reports and the store. */
export interface ImageIdentity {
  /** Short name for people (the module's file name, "linux-guest (lockstep)"). */
  readonly name: string;
  /** What runs: a module path or image directory. */
  readonly reference: string;
  /** Digest of what runs (sha256 of the module, of the image files). */
  readonly digest: string;
}

export interface OpenedDriver {
  readonly driver: Driver;
  readonly image: ImageIdentity;
}

export interface DriverKind<S extends DriverSpec> {
  readonly kind: string;
  readonly schema: z.ZodType<S>;
  open(spec: S, context: OpenContext): Promise<OpenedDriver>;
}

export class DriverSpecError extends ShadowvmError {
  constructor(message: string) {
    super('driver-spec', message);
  }
}

const kinds = new Map<string, DriverKind<DriverSpec>>();

/** Makes a driver kind openable by name (built-ins below; tests add the fake). */
export function registerDriverKind<S extends DriverSpec>(kind: DriverKind<S>): void {
  kinds.set(kind.kind, kind as unknown as DriverKind<DriverSpec>);
}

/** Validates a spec against its kind's schema; errors name the field. */
export function parseDriverSpec(value: unknown): DriverSpec {
  const base = DriverSpecSchema.safeParse(value);
  if (!base.success) throw new DriverSpecError('a driver spec needs a "kind" (wasm or qemu)');
  const kind = kinds.get(base.data.kind);
  if (!kind) throw new DriverSpecError(`unknown driver ${base.data.kind}; known drivers are ${[...kinds.keys()].join(', ')}`);
  const parsed = kind.schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DriverSpecError(`${kind.kind} driver: ${issue?.path.join('.') || 'spec'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export async function openDriver(value: unknown, context: OpenContext = {}): Promise<OpenedDriver> {
  const spec = parseDriverSpec(value);
  return (kinds.get(spec.kind) as DriverKind<DriverSpec>).open(spec, context);
}

registerDriverKind({
  kind: 'wasm',
  schema: WasmSpecSchema,
  open: (spec, context) => openWasmDriver(spec, context),
});

registerDriverKind({
  kind: 'qemu',
  schema: QemuSpecSchema,
  async open(spec) {
    const image = guestImage(resolve(spec.image));
    const options = { imageDir: image.dir, kernelArgs: spec.kernelArgs, ...(spec.epochMs !== undefined ? { epochMs: spec.epochMs } : {}) };
    const driver = spec.mode === 'lockstep' ? new LockstepDriver(options) : new FreeDriver(options);
    return { driver, image: { name: `linux-guest (${spec.mode})`, reference: image.dir, digest: guestImageHash(image) } };
  },
});
