// Support for tests and benchmarks only: compile a C guest with clang, and run a guest under the
// smallest set of WASI imports that lets a clang-built command print and exit. It is not a WASI
// layer (that is ../wasi/): every other WASI call answers ENOSYS.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUDGET_EXPORT, EPOCH_IMPORT, GROW_IMPORT, IMPORT_MODULE } from './abi.js';

const run = promisify(execFile);
const ENOSYS = 52;
const WASI = 'wasi_snapshot_preview1';

/** Thrown by proc_exit to unwind the guest. */
class GuestExit extends Error {
  constructor(readonly code: number) {
    super(`guest exited with ${code}`);
  }
}

/** Compiles one C source into a WASI command (`clang --target=wasm32-wasi -O2 …`). */
export async function compileC(source: string, extraFlags: readonly string[] = []): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowvm-cc-'));
  try {
    await writeFile(join(dir, 'guest.c'), source);
    const out = join(dir, 'guest.wasm');
    await run('clang', ['--target=wasm32-wasi', '-O2', ...extraFlags, '-o', out, join(dir, 'guest.c')]);
    return new Uint8Array(await readFile(out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface GuestRunOptions {
  /** Events per epoch, set into the budget before start and at every epoch call. */
  readonly epochBudget?: number;
  /** Called at every epoch with its number (from 1); throw to stop the guest. */
  readonly onEpoch?: (epoch: number, instance: WebAssembly.Instance) => void;
  /** Replaces the default grow policy (grow the memory, -1 when the engine refuses). */
  readonly grow?: (deltaPages: number, memory: WebAssembly.Memory) => number;
  readonly args?: readonly string[];
}

export interface GuestRun {
  readonly stdout: string;
  readonly exitCode: number;
  readonly epochs: number;
  readonly growCalls: number;
  readonly instance: WebAssembly.Instance;
}

/** Runs a guest (bare or instrumented) to its end. */
export function runGuest(module: WebAssembly.Module, options: GuestRunOptions = {}): GuestRun {
  const budget = options.epochBudget ?? 0x7fffffff;
  let memory: WebAssembly.Memory | undefined;
  let instance: WebAssembly.Instance | undefined;
  let epochs = 0;
  let growCalls = 0;
  const stdout: Uint8Array[] = [];
  const args = ['guest', ...(options.args ?? [])].map((a) => new TextEncoder().encode(`${a}\0`));
  const view = (): DataView => new DataView(memory!.buffer);
  const wasi: Record<string, (...a: number[]) => number> = {
    fd_write(fd, iovs, count, written) {
      let total = 0;
      for (let i = 0; i < count; i++) {
        const base = view().getUint32(iovs + 8 * i, true);
        const length = view().getUint32(iovs + 8 * i + 4, true);
        if (fd === 1) stdout.push(new Uint8Array(memory!.buffer, base, length).slice());
        total += length;
      }
      view().setUint32(written, total, true);
      return 0;
    },
    proc_exit(code) {
      throw new GuestExit(code);
    },
    args_sizes_get(countOut, sizeOut) {
      view().setUint32(countOut, args.length, true);
      view().setUint32(
        sizeOut,
        args.reduce((n, a) => n + a.length, 0),
        true,
      );
      return 0;
    },
    args_get(argv, buffer) {
      let at = buffer;
      args.forEach((arg, i) => {
        view().setUint32(argv + 4 * i, at, true);
        new Uint8Array(memory!.buffer).set(arg, at);
        at += arg.length;
      });
      return 0;
    },
    environ_sizes_get(countOut, sizeOut) {
      view().setUint32(countOut, 0, true);
      view().setUint32(sizeOut, 0, true);
      return 0;
    },
  };
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {
    [WASI]: {},
    [IMPORT_MODULE]: {
      [EPOCH_IMPORT]: () => {
        epochs++;
        options.onEpoch?.(epochs, instance!);
        (instance!.exports[BUDGET_EXPORT] as WebAssembly.Global).value = budget;
      },
      [GROW_IMPORT]: (delta: number) => {
        growCalls++;
        if (options.grow) return options.grow(delta, memory!);
        try {
          return memory!.grow(delta);
        } catch {
          return -1;
        }
      },
    },
  };
  for (const { module: from, name } of WebAssembly.Module.imports(module)) {
    if (from === WASI) imports[WASI]![name] = wasi[name] ?? (() => ENOSYS);
  }
  instance = new WebAssembly.Instance(module, imports);
  memory = instance.exports.memory as WebAssembly.Memory;
  const budgetGlobal = instance.exports[BUDGET_EXPORT] as WebAssembly.Global | undefined;
  if (budgetGlobal) budgetGlobal.value = budget;
  let exitCode = 0;
  try {
    (instance.exports._start as () => void)();
  } catch (error) {
    if (!(error instanceof GuestExit)) throw error;
    exitCode = error.code;
  }
  return { stdout: Buffer.concat(stdout).toString('utf8'), exitCode, epochs, growCalls, instance };
}
