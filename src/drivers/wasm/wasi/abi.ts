// Numbers and struct layouts of wasi_snapshot_preview1, as the witx spec and wasi-libc's
// wasi/api.h define them. Only what this layer reads or writes is listed.

export const Errno = {
  SUCCESS: 0,
  ACCES: 2,
  BADF: 8,
  BUSY: 10,
  EXIST: 20,
  FAULT: 21,
  FBIG: 22,
  ILSEQ: 25,
  INVAL: 28,
  IO: 29,
  ISDIR: 31,
  LOOP: 32,
  MFILE: 33,
  NAMETOOLONG: 37,
  NFILE: 41,
  NOENT: 44,
  NOMEM: 48,
  NOSPC: 51,
  NOSYS: 52,
  NOTDIR: 54,
  NOTEMPTY: 55,
  NOTSUP: 58,
  OVERFLOW: 61,
  PERM: 63,
  ROFS: 69,
  SPIPE: 70,
  XDEV: 75,
  NOTCAPABLE: 76,
} as const;

export const Filetype = {
  UNKNOWN: 0,
  BLOCK_DEVICE: 1,
  CHARACTER_DEVICE: 2,
  DIRECTORY: 3,
  REGULAR_FILE: 4,
  SOCKET_DGRAM: 5,
  SOCKET_STREAM: 6,
  SYMBOLIC_LINK: 7,
} as const;

export const ClockId = { REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME: 2, THREAD_CPUTIME: 3 } as const;

export const Whence = { SET: 0, CUR: 1, END: 2 } as const;

export const OFlags = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;

export const FdFlags = { APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16 } as const;

export const LookupFlags = { SYMLINK_FOLLOW: 1 } as const;

export const FstFlags = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;

export const EventType = { CLOCK: 0, FD_READ: 1, FD_WRITE: 2 } as const;

export const SubclockFlags = { ABSTIME: 1 } as const;

/** Highest `advice` value fd_advise accepts (NOREUSE). */
export const MAX_ADVICE = 5;

export const Rights = {
  FD_READ: 1n << 1n,
  FD_FDSTAT_SET_FLAGS: 1n << 3n,
  FD_WRITE: 1n << 6n,
  FD_FILESTAT_GET: 1n << 21n,
  POLL_FD_READWRITE: 1n << 27n,
  /** Every right preview1 defines (bits 0..29): what preopened directories hand down. */
  ALL: (1n << 30n) - 1n,
} as const;

/** Byte sizes and field offsets of the structs the guest passes by pointer. */
export const Layout = {
  IOVEC_SIZE: 8,
  FILESTAT_SIZE: 64,
  FDSTAT_SIZE: 24,
  PRESTAT_SIZE: 8,
  DIRENT_HEADER_SIZE: 24,
  SUBSCRIPTION_SIZE: 48,
  EVENT_SIZE: 32,
} as const;
