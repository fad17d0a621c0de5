// The path_* calls: everything that names a file by path inside a preopened directory.

import { Errno, FdFlags, LookupFlags, OFlags, Rights } from './abi.js';
import type { Syscall, WasiContext } from './context.js';
import type { DirDescriptor } from './descriptors.js';
import { SyscallError } from './errors.js';
import { guestPathOf, resolvePath, type VolumePath } from './paths.js';
import { encodeFilestat } from './payload.js';
import { newTimes } from './times.js';

const fail = (errno: number): SyscallError => new SyscallError(errno);

export function pathCalls({ memory, fds, gate }: WasiContext): Record<string, Syscall> {
  const locate = (fd: number, ptr: number, length: number): { dir: DirDescriptor; path: VolumePath } => {
    const dir = fds.dir(fd);
    return { dir, path: resolvePath(dir.segments, memory.string(ptr, length)) };
  };

  /** Two paths of one rename or link: both must be in the same volume. */
  const locatePair = (fromFd: number, fromPtr: number, fromLength: number, toFd: number, toPtr: number, toLength: number) => {
    const from = locate(fromFd, fromPtr, fromLength);
    const to = locate(toFd, toPtr, toLength);
    if (from.dir.volume !== to.dir.volume) throw fail(Errno.XDEV);
    return { volume: from.dir.volume, from: from.path, to: to.path };
  };

  return {
    path_open(
      fd: number,
      lookupFlags: number,
      ptr: number,
      length: number,
      oflags: number,
      rightsBase: bigint,
      rightsInheriting: bigint,
      fdflags: number,
      opened: number,
    ): number {
      const { dir, path } = locate(fd, ptr, length);
      // Checked before opening: once open, an input file holds a host descriptor.
      memory.setU32(opened, 0);
      const result = dir.volume.open(path, {
        follow: (lookupFlags & LookupFlags.SYMLINK_FOLLOW) !== 0,
        create: (oflags & OFlags.CREAT) !== 0,
        exclusive: (oflags & OFlags.EXCL) !== 0,
        truncate: (oflags & OFlags.TRUNC) !== 0,
        directory: (oflags & OFlags.DIRECTORY) !== 0,
        write: (rightsBase & Rights.FD_WRITE) !== 0n || (fdflags & FdFlags.APPEND) !== 0,
      });
      const state = { rightsBase, rightsInheriting, flags: fdflags };
      if (result.kind === 'dir') {
        memory.setU32(
          opened,
          fds.add({ kind: 'dir', volume: dir.volume, segments: path.segments, preopen: undefined, listing: undefined, ...state }),
        );
        return Errno.SUCCESS;
      }
      const guestPath = guestPathOf(dir.volume.guestRoot, path.segments);
      try {
        memory.setU32(opened, fds.add({ kind: 'file', file: result.file, guestPath, position: 0, ...state }));
      } catch (error) {
        result.file.close();
        throw error;
      }
      return Errno.SUCCESS;
    },
    path_filestat_get(fd: number, lookupFlags: number, ptr: number, length: number, stat: number): number {
      const { dir, path } = locate(fd, ptr, length);
      memory.write(stat, encodeFilestat(dir.volume.stat(path, (lookupFlags & LookupFlags.SYMLINK_FOLLOW) !== 0)));
      return Errno.SUCCESS;
    },
    path_filestat_set_times(
      fd: number,
      lookupFlags: number,
      ptr: number,
      length: number,
      atim: bigint,
      mtim: bigint,
      fstflags: number,
    ): number {
      const { dir, path } = locate(fd, ptr, length);
      dir.volume.setTimes(path, (lookupFlags & LookupFlags.SYMLINK_FOLLOW) !== 0, newTimes(gate, atim, mtim, fstflags));
      return Errno.SUCCESS;
    },
    path_create_directory(fd: number, ptr: number, length: number): number {
      const { dir, path } = locate(fd, ptr, length);
      dir.volume.createDirectory(path);
      return Errno.SUCCESS;
    },
    path_remove_directory(fd: number, ptr: number, length: number): number {
      const { dir, path } = locate(fd, ptr, length);
      dir.volume.removeDirectory(path);
      return Errno.SUCCESS;
    },
    path_unlink_file(fd: number, ptr: number, length: number): number {
      const { dir, path } = locate(fd, ptr, length);
      dir.volume.unlinkFile(path);
      return Errno.SUCCESS;
    },
    path_rename(fromFd: number, fromPtr: number, fromLength: number, toFd: number, toPtr: number, toLength: number): number {
      const { volume, from, to } = locatePair(fromFd, fromPtr, fromLength, toFd, toPtr, toLength);
      volume.rename(from, to);
      return Errno.SUCCESS;
    },
    path_link(
      fromFd: number,
      _lookupFlags: number,
      fromPtr: number,
      fromLength: number,
      toFd: number,
      toPtr: number,
      toLength: number,
    ): number {
      const { volume, from, to } = locatePair(fromFd, fromPtr, fromLength, toFd, toPtr, toLength);
      volume.link(from, to);
      return Errno.SUCCESS;
    },
    // Neither volume has symlinks of its own: the input dir's are followed on the host side.
    path_symlink: () => Errno.NOTSUP,
    path_readlink: () => Errno.NOTSUP,
  };
}
