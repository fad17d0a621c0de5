// Errors of the WASI layer. `SyscallError` never leaves the layer (it unwinds one call to its errno
// result); the others reach the worker, which turns them into how the VM ended.

import { ShadowvmError } from '../../../errors.js';
import { Errno } from './abi.js';

/**
 * The guest called proc_exit. Thrown through the guest's stack so that `_start` returns to the
 * worker. Not a ShadowvmError: it is the guest's normal way out, and `code` is its exit status.
 */
export class ProcExit extends Error {
  readonly code: number;

  constructor(code: number) {
    super(`guest exited with code ${code}`);
    this.name = 'ProcExit';
    this.code = code;
  }
}

/** A replica asked for an input the primary did not take at that point (or took none at all). */
export class ReplayDivergenceError extends ShadowvmError {
  readonly expected: string;
  readonly got: string;

  constructor(expected: string, got: string) {
    super('replay-divergence', `replica diverged from the primary's inputs: the primary took "${expected}", the replica asked "${got}"`);
    this.expected = expected;
    this.got = got;
  }
}

export class WasiNotBoundError extends ShadowvmError {
  constructor() {
    super('wasi-not-bound', 'the WASI layer was called before bind(memory): bind the instance memory before running _start');
  }
}

/** Ends one WASI call with `errno` as its result. */
export class SyscallError extends ShadowvmError {
  readonly errno: number;

  constructor(errno: number) {
    super('wasi-errno', `WASI call failed with errno ${errno}`);
    this.errno = errno;
  }
}

const HOST_CODES: Readonly<Record<string, number>> = {
  EACCES: Errno.ACCES,
  EBADF: Errno.BADF,
  EEXIST: Errno.EXIST,
  EINVAL: Errno.INVAL,
  EIO: Errno.IO,
  EISDIR: Errno.ISDIR,
  ELOOP: Errno.LOOP,
  EMFILE: Errno.MFILE,
  ENAMETOOLONG: Errno.NAMETOOLONG,
  ENFILE: Errno.NFILE,
  ENOENT: Errno.NOENT,
  ENOMEM: Errno.NOMEM,
  ENOTDIR: Errno.NOTDIR,
  EOVERFLOW: Errno.OVERFLOW,
  EPERM: Errno.PERM,
};

/** The WASI errno for a failure of the host (a Node fs error, or anything a source threw). */
export function hostErrno(error: unknown): number {
  if (error instanceof SyscallError) return error.errno;
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' ? HOST_CODES[code] : undefined) ?? Errno.IO;
}
