// The fd_* calls: reading, writing, seeking and describing open descriptors.

import { Errno, FdFlags, Filetype, Layout, MAX_ADVICE, Rights, Whence } from './abi.js';
import type { Syscall, WasiContext } from './context.js';
import type { Descriptor, FileDescriptor } from './descriptors.js';
import { SyscallError } from './errors.js';
import { bodyOf, type DirEntry, encodeFilestat, type Filestat, liveRead } from './payload.js';
import { newTimes } from './times.js';

/** One read asks for at most this much: bounds payloads and host buffers (short reads are legal). */
export const READ_LIMIT = 1 << 20;

const fail = (errno: number): SyscallError => new SyscallError(errno);
const encoder = new TextEncoder();

const STDIO_STAT: Filestat = { dev: 0n, ino: 0n, filetype: Filetype.UNKNOWN, nlink: 1n, size: 0n, atim: 0n, mtim: 0n, ctim: 0n };

/** A file offset the guest passed (u64 arriving as a signed i64). */
export function toOffset(value: bigint): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(Errno.INVAL);
  return Number(value);
}

function seekable(descriptor: Descriptor): FileDescriptor {
  if (descriptor.kind === 'stdio') throw fail(Errno.SPIPE);
  if (descriptor.kind === 'dir') throw fail(Errno.ISDIR);
  return descriptor;
}

function requireRight(descriptor: Descriptor, right: bigint): void {
  if ((descriptor.rightsBase & right) === 0n) throw fail(Errno.BADF);
}

function filetypeOf(descriptor: Descriptor): number {
  if (descriptor.kind === 'dir') return Filetype.DIRECTORY;
  return descriptor.kind === 'file' ? Filetype.REGULAR_FILE : Filetype.UNKNOWN;
}

/** preview1 dirents (header + name) from entry `from` on, cut at `limit` bytes as the spec says. */
function direntBytes(entries: readonly DirEntry[], from: number, limit: number): Uint8Array {
  const out = new Uint8Array(limit);
  let at = 0;
  for (let i = from; i < entries.length && at < limit; i++) {
    const entry = entries[i];
    if (!entry) break;
    const name = encoder.encode(entry.name);
    const record = new Uint8Array(Layout.DIRENT_HEADER_SIZE + name.length);
    const header = new DataView(record.buffer);
    header.setBigUint64(0, BigInt(i + 1), true);
    header.setBigUint64(8, BigInt.asUintN(64, entry.ino), true);
    header.setUint32(16, name.length, true);
    header.setUint8(20, entry.filetype);
    record.set(name, Layout.DIRENT_HEADER_SIZE);
    const used = Math.min(record.length, limit - at);
    out.set(record.subarray(0, used), at);
    at += used;
  }
  return out.subarray(0, at);
}

export function fdCalls({ memory, fds, gate, stdin, output }: WasiContext): Record<string, Syscall> {
  const readStdin = (length: number): Uint8Array => {
    if (length === 0) return new Uint8Array(0);
    // "fd=0" names the stdin stream, whatever number the guest gave it since.
    const body = bodyOf(gate.take(`fd_read fd=0 len=${length}`, () => liveRead(length, (into) => stdin.read(into))));
    return body.subarray(0, length);
  };

  const read = (fd: number, iovs: number, count: number, at: number | undefined): number => {
    const descriptor = fds.get(fd);
    const length = Math.min(memory.iovecTotal(iovs, count), READ_LIMIT);
    if (descriptor.kind === 'stdio') {
      if (at !== undefined) throw fail(Errno.SPIPE);
      if (descriptor.stream !== 'stdin') throw fail(Errno.BADF);
      const data = readStdin(length);
      memory.scatter(iovs, count, data);
      return data.length;
    }
    const file = seekable(descriptor);
    requireRight(file, Rights.FD_READ);
    const data = file.file.read(at ?? file.position, length);
    memory.scatter(iovs, count, data);
    if (at === undefined) file.position += data.length;
    return data.length;
  };

  const write = (fd: number, iovs: number, count: number, at: number | undefined): number => {
    const descriptor = fds.get(fd);
    const data = memory.gather(iovs, count, memory.iovecTotal(iovs, count));
    if (descriptor.kind === 'stdio') {
      if (at !== undefined) throw fail(Errno.SPIPE);
      if (descriptor.stream === 'stdin') throw fail(Errno.BADF);
      if (data.length > 0) output(descriptor.stream, data);
      return data.length;
    }
    if (descriptor.kind === 'dir') throw fail(Errno.BADF);
    requireRight(descriptor, Rights.FD_WRITE);
    if (at !== undefined) descriptor.file.write(at, data);
    else descriptor.position = descriptor.file.write((descriptor.flags & FdFlags.APPEND) !== 0 ? 'end' : descriptor.position, data);
    if (data.length > 0) output(`file:${descriptor.guestPath}`, data);
    return data.length;
  };

  const setTimes = (fd: number, atim: bigint, mtim: bigint, fstflags: number): number => {
    const descriptor = fds.get(fd);
    const times = newTimes(gate, atim, mtim, fstflags);
    if (descriptor.kind === 'stdio') throw fail(Errno.INVAL);
    if (descriptor.kind === 'file') descriptor.file.setTimes(times);
    else descriptor.volume.setTimes({ segments: descriptor.segments, mustBeDir: false }, true, times);
    return Errno.SUCCESS;
  };

  return {
    fd_read(fd: number, iovs: number, count: number, nread: number): number {
      memory.setU32(nread, read(fd, iovs, count, undefined));
      return Errno.SUCCESS;
    },
    fd_pread(fd: number, iovs: number, count: number, offset: bigint, nread: number): number {
      memory.setU32(nread, read(fd, iovs, count, toOffset(offset)));
      return Errno.SUCCESS;
    },
    fd_write(fd: number, iovs: number, count: number, nwritten: number): number {
      memory.setU32(nwritten, write(fd, iovs, count, undefined));
      return Errno.SUCCESS;
    },
    fd_pwrite(fd: number, iovs: number, count: number, offset: bigint, nwritten: number): number {
      memory.setU32(nwritten, write(fd, iovs, count, toOffset(offset)));
      return Errno.SUCCESS;
    },
    fd_seek(fd: number, offset: bigint, whence: number, newOffset: number): number {
      const file = seekable(fds.get(fd));
      let base: bigint;
      if (whence === Whence.SET) base = 0n;
      else if (whence === Whence.CUR) base = BigInt(file.position);
      else if (whence === Whence.END) base = file.file.stat().size;
      else throw fail(Errno.INVAL);
      file.position = toOffset(base + offset);
      memory.setU64(newOffset, BigInt(file.position));
      return Errno.SUCCESS;
    },
    fd_tell(fd: number, offset: number): number {
      memory.setU64(offset, BigInt(seekable(fds.get(fd)).position));
      return Errno.SUCCESS;
    },
    fd_close(fd: number): number {
      fds.close(fd);
      return Errno.SUCCESS;
    },
    fd_renumber(from: number, to: number): number {
      fds.renumber(from, to);
      return Errno.SUCCESS;
    },
    fd_fdstat_get(fd: number, stat: number): number {
      const descriptor = fds.get(fd);
      memory.fill(stat, Layout.FDSTAT_SIZE, 0);
      memory.setU8(stat, filetypeOf(descriptor));
      memory.setU16(stat + 2, descriptor.flags);
      memory.setU64(stat + 8, descriptor.rightsBase);
      memory.setU64(stat + 16, descriptor.rightsInheriting);
      return Errno.SUCCESS;
    },
    fd_fdstat_set_flags(fd: number, flags: number): number {
      fds.get(fd).flags = flags & (FdFlags.APPEND | FdFlags.DSYNC | FdFlags.NONBLOCK | FdFlags.RSYNC | FdFlags.SYNC);
      return Errno.SUCCESS;
    },
    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): number {
      const descriptor = fds.get(fd);
      // Rights can only be dropped, never gained.
      if ((base & ~descriptor.rightsBase) !== 0n || (inheriting & ~descriptor.rightsInheriting) !== 0n) throw fail(Errno.NOTCAPABLE);
      descriptor.rightsBase = base;
      descriptor.rightsInheriting = inheriting;
      return Errno.SUCCESS;
    },
    fd_filestat_get(fd: number, stat: number): number {
      const descriptor = fds.get(fd);
      let filestat: Filestat;
      if (descriptor.kind === 'stdio') filestat = STDIO_STAT;
      else if (descriptor.kind === 'file') filestat = descriptor.file.stat();
      else filestat = descriptor.volume.stat({ segments: descriptor.segments, mustBeDir: false }, true);
      memory.write(stat, encodeFilestat(filestat));
      return Errno.SUCCESS;
    },
    fd_filestat_set_size(fd: number, size: bigint): number {
      const descriptor = fds.get(fd);
      if (descriptor.kind !== 'file') throw fail(Errno.INVAL);
      requireRight(descriptor, Rights.FD_WRITE);
      descriptor.file.setSize(toOffset(size));
      return Errno.SUCCESS;
    },
    fd_filestat_set_times: setTimes,
    fd_advise(fd: number, _offset: bigint, _length: bigint, advice: number): number {
      seekable(fds.get(fd));
      if (advice > MAX_ADVICE) throw fail(Errno.INVAL);
      return Errno.SUCCESS;
    },
    fd_allocate(fd: number, offset: bigint, length: bigint): number {
      const file = seekable(fds.get(fd));
      requireRight(file, Rights.FD_WRITE);
      const end = toOffset(offset + length);
      if (BigInt(end) > file.file.stat().size) file.file.setSize(end);
      return Errno.SUCCESS;
    },
    fd_sync(fd: number): number {
      if (fds.get(fd).kind === 'stdio') throw fail(Errno.INVAL);
      return Errno.SUCCESS;
    },
    fd_datasync(fd: number): number {
      if (fds.get(fd).kind === 'stdio') throw fail(Errno.INVAL);
      return Errno.SUCCESS;
    },
    fd_readdir(fd: number, buf: number, length: number, cookie: bigint, used: number): number {
      const dir = fds.dir(fd);
      if (cookie === 0n || !dir.listing) dir.listing = dir.volume.list({ segments: dir.segments, mustBeDir: false });
      const bytes = direntBytes(dir.listing, cookie > BigInt(dir.listing.length) ? dir.listing.length : Number(cookie), length);
      memory.write(buf, bytes);
      memory.setU32(used, bytes.length);
      return Errno.SUCCESS;
    },
    fd_prestat_get(fd: number, prestat: number): number {
      const name = preopenName(fds.get(fd));
      memory.fill(prestat, Layout.PRESTAT_SIZE, 0);
      memory.setU32(prestat + 4, name.length);
      return Errno.SUCCESS;
    },
    fd_prestat_dir_name(fd: number, path: number, length: number): number {
      const name = preopenName(fds.get(fd));
      if (length < name.length) throw fail(Errno.NAMETOOLONG);
      memory.write(path, name);
      return Errno.SUCCESS;
    },
  };
}

function preopenName(descriptor: Descriptor): Uint8Array {
  if (descriptor.kind !== 'dir' || descriptor.preopen === undefined) throw fail(Errno.BADF);
  return encoder.encode(descriptor.preopen);
}
