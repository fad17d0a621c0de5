// The read-only input directory: a host directory the primary reads for real. Its contents and
// metadata come from the outside world, so every answer (open, read, stat, listing) goes through
// the input gate; replicas replaying the primary never touch the host. The guest can only reach
// paths whose real location (symlinks resolved) lies inside the directory.

import { type BigIntStats, closeSync, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { Errno, Filetype } from './abi.js';
import { SyscallError } from './errors.js';
import type { InputGate } from './gate.js';
import { guestPathOf, type VolumePath } from './paths.js';
import {
  bodyOf,
  type DirEntry,
  decodeFilestat,
  decodeListing,
  encodeFilestat,
  encodeListing,
  type Filestat,
  liveRead,
  liveStatus,
} from './payload.js';
import type { FileHandle, Opened, OpenRequest, Volume } from './volume.js';

const fail = (errno: number): SyscallError => new SyscallError(errno);

export class InputVolume implements Volume {
  /** Resolved on first live access: replicas never look at the host. */
  private realRoot: string | undefined;

  constructor(
    readonly guestRoot: string,
    private readonly hostRoot: string,
    private readonly gate: InputGate,
  ) {}

  open(path: VolumePath, request: OpenRequest): Opened {
    if (request.write || request.create || request.truncate) throw fail(Errno.ROFS);
    const guestPath = guestPathOf(this.guestRoot, path.segments);
    // Set only when this call went to the host: the file is then held open from this moment.
    const held: { fd?: number } = {};
    const kind = `path_open path=${guestPath} follow=${request.follow ? 1 : 0}`;
    const body = bodyOf(
      this.gate.take(kind, () =>
        liveStatus(() => {
          const real = this.hostPathOf(path.segments, request.follow);
          const filetype = filetypeOf(lstatSync(real));
          if (filetype === Filetype.REGULAR_FILE) held.fd = openSync(real, 'r');
          return Uint8Array.of(filetype);
        }),
      ),
    );
    const filetype = body[0] ?? Filetype.UNKNOWN;
    if (filetype === Filetype.DIRECTORY) return { kind: 'dir' };
    const refusal =
      request.directory || path.mustBeDir
        ? Errno.NOTDIR
        : filetype === Filetype.SYMBOLIC_LINK
          ? Errno.LOOP
          : filetype !== Filetype.REGULAR_FILE
            ? Errno.NOTSUP
            : undefined;
    if (refusal !== undefined) {
      if (held.fd !== undefined) closeSync(held.fd);
      throw fail(refusal);
    }
    const reopen = (): number => openSync(this.hostPathOf(path.segments, true), 'r');
    return { kind: 'file', file: new InputFile(this.gate, guestPath, held.fd, reopen) };
  }

  stat(path: VolumePath, follow: boolean): Filestat {
    const kind = `path_filestat_get path=${guestPathOf(this.guestRoot, path.segments)} follow=${follow ? 1 : 0}`;
    const stat = decodeFilestat(
      bodyOf(
        this.gate.take(kind, () =>
          liveStatus(() => encodeFilestat(filestatOf(lstatSync(this.hostPathOf(path.segments, follow), { bigint: true })))),
        ),
      ),
    );
    if (path.mustBeDir && stat.filetype !== Filetype.DIRECTORY) throw fail(Errno.NOTDIR);
    return stat;
  }

  list(path: VolumePath): DirEntry[] {
    const kind = `fd_readdir path=${guestPathOf(this.guestRoot, path.segments)}`;
    return decodeListing(bodyOf(this.gate.take(kind, () => liveStatus(() => encodeListing(this.liveListing(path.segments))))));
  }

  createDirectory(): void {
    throw fail(Errno.ROFS);
  }

  removeDirectory(): void {
    throw fail(Errno.ROFS);
  }

  unlinkFile(): void {
    throw fail(Errno.ROFS);
  }

  rename(): void {
    throw fail(Errno.ROFS);
  }

  link(): void {
    throw fail(Errno.ROFS);
  }

  setTimes(): void {
    throw fail(Errno.ROFS);
  }

  private liveListing(segments: readonly string[]): DirEntry[] {
    const real = this.hostPathOf(segments, true);
    const self = statSync(real, { bigint: true }).ino;
    // ".." of the root is the root itself: nothing above the input dir is visible.
    const parent = real === this.realRoot ? self : statSync(dirname(real), { bigint: true }).ino;
    const entries: DirEntry[] = [];
    for (const dirent of readdirSync(real, { withFileTypes: true })) {
      try {
        const ino = lstatSync(join(real, dirent.name), { bigint: true }).ino;
        entries.push({ name: dirent.name, ino, filetype: filetypeOf(dirent) });
      } catch {
        // Removed while listing: as if the listing had been taken a moment later.
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return [{ name: '.', ino: self, filetype: Filetype.DIRECTORY }, { name: '..', ino: parent, filetype: Filetype.DIRECTORY }, ...entries];
  }

  /**
   * The real host path of `segments`, refused unless it lies inside the input dir. Without
   * `follow`, a symlink as the last name is the link itself (its parent must still be inside).
   */
  private hostPathOf(segments: readonly string[], follow: boolean): string {
    this.realRoot ??= realpathSync(this.hostRoot);
    const root = this.realRoot;
    const lexical = join(root, ...segments);
    const real = follow || segments.length === 0 ? realpathSync(lexical) : join(realpathSync(dirname(lexical)), basename(lexical));
    if (real !== root && !real.startsWith(root + sep)) throw fail(Errno.NOTCAPABLE);
    return real;
  }
}

/** A file of the input dir. `hostFd` is open when the primary opened it; else opened on first live use. */
class InputFile implements FileHandle {
  constructor(
    private readonly gate: InputGate,
    private readonly guestPath: string,
    private hostFd: number | undefined,
    private readonly reopen: () => number,
  ) {}

  read(offset: number, length: number): Uint8Array {
    const kind = `fd_read path=${this.guestPath} off=${offset} len=${length}`;
    const body = bodyOf(this.gate.take(kind, () => liveRead(length, (into) => readSync(this.liveFd(), into, 0, length, offset))));
    return body.length > length ? body.subarray(0, length) : body;
  }

  write(): number {
    throw fail(Errno.BADF);
  }

  stat(): Filestat {
    const kind = `fd_filestat_get path=${this.guestPath}`;
    return decodeFilestat(
      bodyOf(this.gate.take(kind, () => liveStatus(() => encodeFilestat(filestatOf(fstatSync(this.liveFd(), { bigint: true })))))),
    );
  }

  setSize(): void {
    throw fail(Errno.BADF);
  }

  setTimes(): void {
    throw fail(Errno.ROFS);
  }

  close(): void {
    if (this.hostFd !== undefined) closeSync(this.hostFd);
    this.hostFd = undefined;
  }

  private liveFd(): number {
    this.hostFd ??= this.reopen();
    return this.hostFd;
  }
}

interface TypedEntry {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}

function filetypeOf(entry: TypedEntry): number {
  if (entry.isFile()) return Filetype.REGULAR_FILE;
  if (entry.isDirectory()) return Filetype.DIRECTORY;
  if (entry.isSymbolicLink()) return Filetype.SYMBOLIC_LINK;
  if (entry.isCharacterDevice()) return Filetype.CHARACTER_DEVICE;
  if (entry.isBlockDevice()) return Filetype.BLOCK_DEVICE;
  if (entry.isSocket()) return Filetype.SOCKET_STREAM;
  return Filetype.UNKNOWN;
}

function filestatOf(stats: BigIntStats): Filestat {
  return {
    dev: stats.dev,
    ino: stats.ino,
    filetype: filetypeOf(stats),
    nlink: stats.nlink,
    size: stats.size,
    atim: stats.atimeNs,
    mtim: stats.mtimeNs,
    ctim: stats.ctimeNs,
  };
}
