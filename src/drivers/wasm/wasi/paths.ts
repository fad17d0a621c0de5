// Resolution of the paths a guest passes, lexically, inside one preopened directory. A path can
// never name anything outside its preopen: absolute paths and ".." above the root are refused
// here, before any volume sees them (symlinks of the host input dir are checked by its volume).

import { Errno } from './abi.js';
import { SyscallError } from './errors.js';

/** A path inside a volume: the names from the volume's root, in order (empty = the root). */
export interface VolumePath {
  readonly segments: readonly string[];
  /** The guest wrote it as a directory ("a/", "a/."): naming a file with it is ENOTDIR. */
  readonly mustBeDir: boolean;
}

/** Resolves `path` relative to the directory at `base` (segments from the same root). */
export function resolvePath(base: readonly string[], path: string): VolumePath {
  if (path.length === 0) throw new SyscallError(Errno.NOENT);
  if (path.startsWith('/')) throw new SyscallError(Errno.NOTCAPABLE);
  if (path.includes('\0')) throw new SyscallError(Errno.INVAL);
  const segments = [...base];
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (segments.length === 0) throw new SyscallError(Errno.NOTCAPABLE);
      segments.pop();
      continue;
    }
    segments.push(part);
  }
  const last = parts[parts.length - 1];
  return { segments, mustBeDir: last === '' || last === '.' || last === '..' };
}

/** The path the guest sees, e.g. "/scratch/a/b" for segments ["a", "b"] of "/scratch". */
export function guestPathOf(root: string, segments: readonly string[]): string {
  if (segments.length === 0) return root;
  return `${root.endsWith('/') ? root : `${root}/`}${segments.join('/')}`;
}
