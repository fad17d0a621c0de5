// A wasm driver from its spec: reads the module (checked against the digest the spec recorded),
// resolves the primary's stdin, and instruments the module (cached by hash).

import { openSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ShadowvmError } from '../../errors.js';
import type { OpenContext, OpenedDriver } from '../open.js';
import type { WasmSpec } from '../spec.js';
import { WasmDriver } from './driver.js';
import { sha256Hex } from './instrument/module-hash.js';

export class GuestNotFoundError extends ShadowvmError {
  constructor(path: string, reason: string) {
    super('guest-not-found', `cannot read the guest ${path}: ${reason}; give the path of a .wasm module`);
  }
}

export class GuestChangedError extends ShadowvmError {
  constructor(path: string) {
    super('guest-changed', `the guest ${path} is not the module this computation started with (its sha256 differs); restore that module`);
  }
}

export function readGuest(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GuestNotFoundError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(code));
  }
}

export async function openWasmDriver(spec: WasmSpec, context: OpenContext): Promise<OpenedDriver> {
  const path = resolve(spec.module);
  const wasm = readGuest(path);
  const digest = sha256Hex(wasm);
  if (spec.moduleSha256 !== undefined && spec.moduleSha256 !== digest) throw new GuestChangedError(path);
  const name = basename(path);
  const stdinFd = stdinOf(spec, context);
  const driver = await WasmDriver.open({
    wasm,
    args: [name, ...spec.args],
    env: spec.env,
    ...(spec.inputDir ? { inputDir: resolve(spec.inputDir) } : {}),
    ...(stdinFd !== undefined ? { stdinFd: stdinFd.fd, closeStdin: stdinFd.owned } : {}),
    epochs: spec.epochs,
    ...(context.cacheDir ? { cacheDir: context.cacheDir } : {}),
  });
  return { driver, image: { name, reference: path, digest } };
}

/** The primary's stdin descriptor, and whether the driver opened it (and closes it with itself). */
function stdinOf(spec: WasmSpec, context: OpenContext): { fd: number; owned: boolean } | undefined {
  if (spec.stdin === 'none') return undefined;
  if (spec.stdin === 'live') return context.stdinFd === undefined ? undefined : { fd: context.stdinFd, owned: false };
  try {
    return { fd: openSync(spec.stdin.file, 'r'), owned: true };
  } catch (error) {
    throw new GuestNotFoundError(spec.stdin.file, `its stdin file cannot be opened (${(error as NodeJS.ErrnoException).code})`);
  }
}
