// How a start request becomes a computation's spec, the plain data its row keeps: the guest or
// image it names is confined to the server's directories (guests.ts), its stdin is kept as a file
// so a reopened spec finds it, and the driver's spec is built as the CLI builds it (computation/spec).

import { basename } from 'node:path';
import type { ComputationConfig } from '../computation/config.js';
import { type ComputationSpec, qemuComputation, wasmComputation } from '../computation/spec.js';
import { resolveGuest, resolveImage } from './guests.js';

/** What runs the replicas, as a request names it (validated at the edge, src/api). */
export type DriverRequest =
  | {
      readonly kind: 'wasm';
      /** Path of the guest module relative to the guests directory. */
      readonly guest: string;
      readonly args: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      /** The primary's whole stdin; no stdin when absent. */
      readonly stdin?: string;
    }
  | {
      readonly kind: 'qemu';
      readonly mode: 'lockstep' | 'free';
      /** Guest image directory relative to the images directory; the built default guest when absent. */
      readonly image?: string;
      /** The workload's kernel parameters (shadowvm.rounds=N…). */
      readonly kernelArgs: readonly string[];
      /** An epoch's wall-clock length; the driver's default when absent. */
      readonly epochMs?: number;
    };

/** Where a request's names point to on the server's disk. */
export interface SpecPlaces {
  readonly guestsDir: string;
  readonly imagesDir: string;
  /** The image a QEMU request that names none boots. */
  readonly defaultImage: string;
  /** Keeps a stdin text where a reopened spec finds it; returns its path. */
  keepStdin(text: string): string;
}

export interface StartSpec {
  readonly spec: ComputationSpec;
  /** The row's label for people. */
  readonly name: string;
  /** The row's image: the module or image directory that runs. */
  readonly image: string;
}

/** The spec of a requested computation; a GuestPathError or ImagePathError for a name outside the server's directories. */
export function startSpec(driver: DriverRequest, config: ComputationConfig, places: SpecPlaces): StartSpec {
  if (driver.kind === 'qemu') {
    const image = resolveImage(places.imagesDir, driver.image, places.defaultImage);
    const spec = qemuComputation({
      mode: driver.mode,
      image,
      kernelArgs: driver.kernelArgs,
      ...(driver.epochMs !== undefined ? { epochMs: driver.epochMs } : {}),
      config,
    });
    return { spec, name: `linux-guest (${driver.mode})`, image };
  }
  const module = resolveGuest(places.guestsDir, driver.guest);
  const spec = wasmComputation({
    module,
    args: driver.args,
    env: driver.env,
    stdin: driver.stdin === undefined ? 'none' : { file: places.keepStdin(driver.stdin) },
    config,
  });
  return { spec, name: basename(module), image: module };
}
