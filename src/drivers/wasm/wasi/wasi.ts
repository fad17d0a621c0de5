// createWasi: our own wasi_snapshot_preview1 for one VM. Every nondeterministic input goes through
// the gate, every output through the output callback; the scratch dir lives in memory. Nothing
// here writes to the host's descriptors (node:wasi is not used: it crashed under repeated use and
// lets a guest close the host's stdout).

import { z } from 'zod';
import { ShadowvmError } from '../../../errors.js';
import { Rights } from './abi.js';
import type { StdinSource, Syscall, WasiContext } from './context.js';
import { DescriptorTable } from './descriptors.js';
import { SyscallError } from './errors.js';
import { fdCalls } from './fd-calls.js';
import type { InputGate } from './gate.js';
import { GuestMemory, type MemorySource } from './guest-memory.js';
import { InputVolume } from './input-volume.js';
import { pathCalls } from './path-calls.js';
import { processCalls } from './process-calls.js';
import { ScratchVolume } from './scratch-volume.js';
import type { Volume } from './volume.js';

export interface WasiOptions {
  /** argv, argv[0] included. Configuration (the same for every replica), not an input. */
  args: string[];
  env: Record<string, string>;
  stdin: StdinSource;
  /** Read-only preopen of a host directory (e.g. "/input"); everything read from it is an input. */
  inputDir?: { guestPath: string; hostPath: string };
  /** Private read-write preopen, in memory: part of the VM's deterministic state. */
  scratchDir?: { guestPath: string };
  gate: InputGate;
  /**
   * Bytes the guest wrote, per stream: "stdout", "stderr", "file:<guest path>". `bytes` may be a
   * view of guest memory, valid during the call only: copy it to keep it.
   */
  output: (stream: string, bytes: Uint8Array) => void;
  /** Called once per WASI call, before it runs (epochs cut by syscall count use it). */
  onSyscall?: (name: string) => void;
}

/** The functions a module imports as `wasi_snapshot_preview1`. */
export type WasiImports = Readonly<Record<string, (...args: unknown[]) => number>>;

export interface Wasi {
  /** Give as `wasi_snapshot_preview1` to instantiate. */
  readonly imports: WasiImports;
  /** Call after instantiate, before `_start`, with the instance's exported memory. */
  bind(memory: MemorySource): void;
  /** Final contents of the in-memory scratch dir, by guest path. */
  scratchFiles(): Map<string, Uint8Array>;
  /** Releases host resources (input files the primary holds open). Call when the VM ends. */
  close(): void;
}

export class WasiConfigError extends ShadowvmError {
  constructor(detail: string) {
    super('wasi-config', `invalid WASI configuration: ${detail}`);
  }
}

const noNul = (value: string): boolean => !value.includes('\0');
const guestPath = z
  .string()
  .regex(/^\/[^\0]*$/, 'a guest path must be absolute')
  .refine((path) => !path.split('/').includes('..'), 'a guest path must not contain ".."');
const configSchema = z.object({
  args: z.array(z.string().refine(noNul, 'arguments cannot contain NUL')),
  env: z.record(
    z.string().refine((name) => noNul(name) && !name.includes('='), 'environment names cannot contain NUL or "="'),
    z.string().refine(noNul, 'environment values cannot contain NUL'),
  ),
  inputDir: z.object({ guestPath, hostPath: z.string().min(1).refine(noNul) }).optional(),
  scratchDir: z.object({ guestPath }).optional(),
});

const STDIN_RIGHTS = Rights.FD_READ | Rights.FD_FDSTAT_SET_FLAGS | Rights.FD_FILESTAT_GET | Rights.POLL_FD_READWRITE;
const STDOUT_RIGHTS = Rights.FD_WRITE | Rights.FD_FDSTAT_SET_FLAGS | Rights.FD_FILESTAT_GET | Rights.POLL_FD_READWRITE;

export function createWasi(options: WasiOptions): Wasi {
  const parsed = configSchema.safeParse(options);
  if (!parsed.success) throw new WasiConfigError(parsed.error.issues.map((issue) => issue.message).join('; '));
  const { inputDir, scratchDir } = parsed.data;
  if (inputDir && scratchDir && inputDir.guestPath === scratchDir.guestPath) {
    throw new WasiConfigError('the input and scratch dirs need different guest paths');
  }

  const memory = new GuestMemory();
  const fds = new DescriptorTable();
  fds.add({ kind: 'stdio', stream: 'stdin', rightsBase: STDIN_RIGHTS, rightsInheriting: 0n, flags: 0 });
  fds.add({ kind: 'stdio', stream: 'stdout', rightsBase: STDOUT_RIGHTS, rightsInheriting: 0n, flags: 0 });
  fds.add({ kind: 'stdio', stream: 'stderr', rightsBase: STDOUT_RIGHTS, rightsInheriting: 0n, flags: 0 });
  const preopen = (volume: Volume): void => {
    fds.add({
      kind: 'dir',
      volume,
      segments: [],
      preopen: volume.guestRoot,
      listing: undefined,
      rightsBase: Rights.ALL,
      rightsInheriting: Rights.ALL,
      flags: 0,
    });
  };
  if (inputDir) preopen(new InputVolume(inputDir.guestPath, inputDir.hostPath, options.gate));
  const scratch = scratchDir ? new ScratchVolume(scratchDir.guestPath) : undefined;
  if (scratch) preopen(scratch);

  const context: WasiContext = { memory, fds, gate: options.gate, stdin: options.stdin, output: options.output };
  const calls: Record<string, Syscall> = {
    ...processCalls(context, parsed.data.args, parsed.data.env),
    ...fdCalls(context),
    ...pathCalls(context),
  };
  const imports: Record<string, (...args: unknown[]) => number> = {};
  for (const [name, call] of Object.entries(calls)) imports[name] = guarded(name, call, memory, options.onSyscall);

  return {
    imports,
    bind: (source) => memory.bind(source),
    scratchFiles: () => scratch?.files() ?? new Map(),
    close: () => fds.closeAll(),
  };
}

/**
 * One import: counts the call, makes i32 arguments unsigned (pointers and lengths above 2 GiB
 * arrive negative), and turns a SyscallError into its errno. Anything else (ProcExit, a replay
 * divergence, a bug) unwinds the guest to the worker.
 */
function guarded(name: string, call: Syscall, memory: GuestMemory, onSyscall: ((name: string) => void) | undefined) {
  return (...args: unknown[]): number => {
    onSyscall?.(name);
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === 'number') args[i] = arg >>> 0;
    }
    try {
      memory.refresh();
      return call(...(args as never[]));
    } catch (error) {
      if (error instanceof SyscallError) return error.errno;
      throw error;
    }
  };
}
