// The guest's file descriptors: what each number refers to, with its rights, flags and position.

import { Errno } from './abi.js';
import { SyscallError } from './errors.js';
import type { DirEntry } from './payload.js';
import type { FileHandle, Volume } from './volume.js';

/** Beyond this many open descriptors path_open fails with EMFILE (a runaway guest, not a host crash). */
const MAX_DESCRIPTORS = 4096;

interface DescriptorState {
  rightsBase: bigint;
  rightsInheriting: bigint;
  /** preview1 fdflags (APPEND, NONBLOCK…). */
  flags: number;
}

export interface StdioDescriptor extends DescriptorState {
  readonly kind: 'stdio';
  readonly stream: 'stdin' | 'stdout' | 'stderr';
}

export interface DirDescriptor extends DescriptorState {
  readonly kind: 'dir';
  readonly volume: Volume;
  readonly segments: readonly string[];
  /** The name a preopened directory is announced under ("/input"); undefined for opened ones. */
  readonly preopen: string | undefined;
  /** The listing fd_readdir pages through; taken again when the guest starts over (cookie 0). */
  listing: DirEntry[] | undefined;
}

export interface FileDescriptor extends DescriptorState {
  readonly kind: 'file';
  readonly file: FileHandle;
  readonly guestPath: string;
  position: number;
}

export type Descriptor = StdioDescriptor | DirDescriptor | FileDescriptor;

export class DescriptorTable {
  private readonly slots: (Descriptor | undefined)[] = [];

  get(fd: number): Descriptor {
    const descriptor = this.slots[fd];
    if (!descriptor) throw new SyscallError(Errno.BADF);
    return descriptor;
  }

  dir(fd: number): DirDescriptor {
    const descriptor = this.get(fd);
    if (descriptor.kind !== 'dir') throw new SyscallError(Errno.NOTDIR);
    return descriptor;
  }

  /** Adds at the lowest free number, as POSIX does. */
  add(descriptor: Descriptor): number {
    let fd = this.slots.indexOf(undefined);
    if (fd < 0) fd = this.slots.length;
    if (fd >= MAX_DESCRIPTORS) throw new SyscallError(Errno.MFILE);
    this.slots[fd] = descriptor;
    return fd;
  }

  close(fd: number): void {
    const descriptor = this.get(fd);
    this.slots[fd] = undefined;
    if (descriptor.kind === 'file') descriptor.file.close();
  }

  /** Moves `from` onto `to`, closing what `to` referred to (both must be open). */
  renumber(from: number, to: number): void {
    const descriptor = this.get(from);
    this.get(to);
    if (from === to) return;
    this.close(to);
    this.slots[to] = descriptor;
    this.slots[from] = undefined;
  }

  closeAll(): void {
    this.slots.forEach((descriptor, fd) => {
      if (descriptor) this.close(fd);
    });
  }
}
