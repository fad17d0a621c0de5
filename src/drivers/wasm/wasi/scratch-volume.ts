// The private read-write directory of a VM, held in memory. It is part of the VM's deterministic
// state: every replica builds the same tree from the same calls, so inode numbers come from a
// counter and timestamps are 0 unless the guest sets them. Nothing here is an input.

import { Errno, Filetype } from './abi.js';
import { SyscallError } from './errors.js';
import { guestPathOf, type VolumePath } from './paths.js';
import type { DirEntry, Filestat } from './payload.js';
import type { FileHandle, NewTimes, Opened, OpenRequest, Volume } from './volume.js';

/** Device number reported for scratch files (any constant: only equality matters to guests). */
const SCRATCH_DEV = 0x5c7an;
/** Default bound on the bytes all scratch files may hold, so a guest cannot exhaust the host. */
export const DEFAULT_SCRATCH_LIMIT = 1 << 30;

const fail = (errno: number): SyscallError => new SyscallError(errno);

class Quota {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Accounts a file growing or shrinking from `before` to `after` bytes. */
  resize(before: number, after: number): void {
    const used = this.used + after - before;
    if (after > before && used > this.limit) throw fail(Errno.NOSPC);
    this.used = used;
  }
}

interface Times {
  atim: bigint;
  mtim: bigint;
  ctim: bigint;
}

function applyTimes(node: { times: Times }, times: NewTimes): void {
  if (times.atim !== undefined) node.times.atim = times.atim;
  if (times.mtim !== undefined) node.times.mtim = times.mtim;
}

class ScratchDir {
  readonly kind = 'dir';
  readonly entries = new Map<string, ScratchNode>();
  readonly times: Times = { atim: 0n, mtim: 0n, ctim: 0n };

  constructor(readonly ino: bigint) {}

  stat(): Filestat {
    return { dev: SCRATCH_DEV, ino: this.ino, filetype: Filetype.DIRECTORY, nlink: 1n, size: 0n, ...this.times };
  }
}

class ScratchFile implements FileHandle {
  readonly kind = 'file';
  readonly times: Times = { atim: 0n, mtim: 0n, ctim: 0n };
  /** Bytes past `size` are always zero, so growing never exposes old contents. */
  private data = new Uint8Array(0);
  private size = 0;
  nlink = 1;

  constructor(
    readonly ino: bigint,
    private readonly quota: Quota,
  ) {}

  contents(): Uint8Array {
    return this.data.slice(0, this.size);
  }

  read(offset: number, length: number): Uint8Array {
    if (offset >= this.size) return new Uint8Array(0);
    return this.data.subarray(offset, Math.min(this.size, offset + length));
  }

  write(offset: number | 'end', data: Uint8Array): number {
    const at = offset === 'end' ? this.size : offset;
    if (data.length === 0) return at;
    const end = at + data.length;
    if (end > this.size) this.setSize(end);
    this.data.set(data, at);
    return end;
  }

  setSize(size: number): void {
    if (size > this.quota.limit) throw fail(Errno.FBIG);
    if (this.nlink > 0) this.quota.resize(this.size, size);
    if (size < this.size) this.data.fill(0, size, this.size);
    else if (size > this.data.length) {
      const grown = new Uint8Array(Math.max(size, this.data.length * 2));
      grown.set(this.data.subarray(0, this.size));
      this.data = grown;
    }
    this.size = size;
  }

  stat(): Filestat {
    return {
      dev: SCRATCH_DEV,
      ino: this.ino,
      filetype: Filetype.REGULAR_FILE,
      nlink: BigInt(this.nlink),
      size: BigInt(this.size),
      ...this.times,
    };
  }

  setTimes(times: NewTimes): void {
    applyTimes(this, times);
  }

  unlinked(): void {
    this.nlink--;
    // The last name is gone: open descriptors keep the bytes, the quota no longer counts them.
    if (this.nlink === 0) this.quota.resize(this.size, 0);
  }

  close(): void {}
}

type ScratchNode = ScratchDir | ScratchFile;

export class ScratchVolume implements Volume {
  private nextIno = 1n;
  private readonly root = new ScratchDir(this.nextIno++);
  private readonly quota: Quota;

  constructor(
    readonly guestRoot: string,
    limitBytes = DEFAULT_SCRATCH_LIMIT,
  ) {
    this.quota = new Quota(limitBytes);
  }

  /** Final contents of every file, by guest path (e.g. "/scratch/out.txt"). */
  files(): Map<string, Uint8Array> {
    const files = new Map<string, Uint8Array>();
    const walk = (dir: ScratchDir, segments: string[]): void => {
      for (const [name, node] of [...dir.entries].sort(byName)) {
        const path = [...segments, name];
        if (node.kind === 'dir') walk(node, path);
        else files.set(guestPathOf(this.guestRoot, path), node.contents());
      }
    };
    walk(this.root, []);
    return files;
  }

  open(path: VolumePath, request: OpenRequest): Opened {
    if (path.segments.length === 0) return this.openExisting(this.root, path, request);
    const { dir, name } = this.parentOf(path, Errno.EXIST);
    const existing = dir.entries.get(name);
    if (existing) return this.openExisting(existing, path, request);
    if (!request.create) throw fail(Errno.NOENT);
    if (request.directory || path.mustBeDir) throw fail(Errno.ISDIR);
    const file = new ScratchFile(this.nextIno++, this.quota);
    dir.entries.set(name, file);
    return { kind: 'file', file };
  }

  private openExisting(node: ScratchNode, path: VolumePath, request: OpenRequest): Opened {
    if (request.create && request.exclusive) throw fail(Errno.EXIST);
    if (node.kind === 'dir') {
      if (request.write || request.truncate) throw fail(Errno.ISDIR);
      return { kind: 'dir' };
    }
    if (request.directory || path.mustBeDir) throw fail(Errno.NOTDIR);
    if (request.truncate) node.setSize(0);
    return { kind: 'file', file: node };
  }

  stat(path: VolumePath): Filestat {
    return this.resolve(path).stat();
  }

  list(path: VolumePath): DirEntry[] {
    const dir = this.resolve(path);
    if (dir.kind !== 'dir') throw fail(Errno.NOTDIR);
    const parent = path.segments.length === 0 ? this.root : this.lookup(path.segments.slice(0, -1));
    const entries: DirEntry[] = [
      { name: '.', ino: dir.ino, filetype: Filetype.DIRECTORY },
      { name: '..', ino: parent.ino, filetype: Filetype.DIRECTORY },
    ];
    for (const [name, node] of [...dir.entries].sort(byName)) {
      entries.push({ name, ino: node.ino, filetype: node.kind === 'dir' ? Filetype.DIRECTORY : Filetype.REGULAR_FILE });
    }
    return entries;
  }

  createDirectory(path: VolumePath): void {
    const { dir, name } = this.parentOf(path, Errno.EXIST);
    if (dir.entries.has(name)) throw fail(Errno.EXIST);
    dir.entries.set(name, new ScratchDir(this.nextIno++));
  }

  removeDirectory(path: VolumePath): void {
    const { dir, name } = this.parentOf(path, Errno.BUSY);
    const node = dir.entries.get(name);
    if (!node) throw fail(Errno.NOENT);
    if (node.kind !== 'dir') throw fail(Errno.NOTDIR);
    if (node.entries.size > 0) throw fail(Errno.NOTEMPTY);
    dir.entries.delete(name);
  }

  unlinkFile(path: VolumePath): void {
    const { dir, name } = this.parentOf(path, Errno.ISDIR);
    const node = dir.entries.get(name);
    if (!node) throw fail(Errno.NOENT);
    if (node.kind === 'dir') throw fail(Errno.ISDIR);
    if (path.mustBeDir) throw fail(Errno.NOTDIR);
    dir.entries.delete(name);
    node.unlinked();
  }

  rename(from: VolumePath, to: VolumePath): void {
    const source = this.parentOf(from, Errno.BUSY);
    const node = source.dir.entries.get(source.name);
    if (!node) throw fail(Errno.NOENT);
    const target = this.parentOf(to, Errno.BUSY);
    const replaced = target.dir.entries.get(target.name);
    if (replaced === node) return;
    if (node.kind === 'dir') {
      if (isInside(to.segments, from.segments)) throw fail(Errno.INVAL);
      if (replaced?.kind === 'file') throw fail(Errno.NOTDIR);
      if (replaced?.kind === 'dir' && replaced.entries.size > 0) throw fail(Errno.NOTEMPTY);
    } else {
      if (from.mustBeDir || to.mustBeDir) throw fail(Errno.NOTDIR);
      if (replaced?.kind === 'dir') throw fail(Errno.ISDIR);
    }
    source.dir.entries.delete(source.name);
    target.dir.entries.set(target.name, node);
    if (replaced?.kind === 'file') replaced.unlinked();
  }

  link(from: VolumePath, to: VolumePath): void {
    const node = this.resolve(from);
    if (node.kind === 'dir') throw fail(Errno.PERM);
    const target = this.parentOf(to, Errno.EXIST);
    if (target.dir.entries.has(target.name)) throw fail(Errno.EXIST);
    target.dir.entries.set(target.name, node);
    node.nlink++;
  }

  setTimes(path: VolumePath, _follow: boolean, times: NewTimes): void {
    applyTimes(this.resolve(path), times);
  }

  private lookup(segments: readonly string[]): ScratchNode {
    let node: ScratchNode = this.root;
    for (const name of segments) {
      if (node.kind !== 'dir') throw fail(Errno.NOTDIR);
      const next: ScratchNode | undefined = node.entries.get(name);
      if (!next) throw fail(Errno.NOENT);
      node = next;
    }
    return node;
  }

  private resolve(path: VolumePath): ScratchNode {
    const node = this.lookup(path.segments);
    if (path.mustBeDir && node.kind !== 'dir') throw fail(Errno.NOTDIR);
    return node;
  }

  /** The directory holding the last name of `path`; `rootErrno` when `path` is the root itself. */
  private parentOf(path: VolumePath, rootErrno: number): { dir: ScratchDir; name: string } {
    const name = path.segments[path.segments.length - 1];
    if (name === undefined) throw fail(rootErrno);
    const dir = this.lookup(path.segments.slice(0, -1));
    if (dir.kind !== 'dir') throw fail(Errno.NOTDIR);
    return { dir, name };
  }
}

function byName([a]: [string, unknown], [b]: [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `inner` lies strictly inside `outer`. */
function isInside(inner: readonly string[], outer: readonly string[]): boolean {
  return inner.length > outer.length && outer.every((name, i) => inner[i] === name);
}
