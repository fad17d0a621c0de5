// What a preopened directory offers the WASI calls, whether its files live in memory (scratch)
// or on the host (input, every answer through the input gate).

import type { VolumePath } from './paths.js';
import type { DirEntry, Filestat } from './payload.js';

export interface OpenRequest {
  readonly follow: boolean;
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly truncate: boolean;
  /** O_DIRECTORY: only a directory may be opened. */
  readonly directory: boolean;
  /** The descriptor will be able to write (or append). */
  readonly write: boolean;
}

export type Opened = { readonly kind: 'dir' } | { readonly kind: 'file'; readonly file: FileHandle };

/** Times to set; `undefined` leaves a time as it is. */
export interface NewTimes {
  readonly atim: bigint | undefined;
  readonly mtim: bigint | undefined;
}

/** An open regular file. Offsets are byte positions, always within Number.MAX_SAFE_INTEGER. */
export interface FileHandle {
  /** Up to `length` bytes at `offset` (fewer at the end of the file). May be a view: copy to keep. */
  read(offset: number, length: number): Uint8Array;
  /** Writes `data` at `offset`, or at the end of the file; returns the offset after it. */
  write(offset: number | 'end', data: Uint8Array): number;
  stat(): Filestat;
  setSize(size: number): void;
  setTimes(times: NewTimes): void;
  /** Releases host resources; the handle is not used again. */
  close(): void;
}

export interface Volume {
  /** Where the guest sees it, e.g. "/scratch". */
  readonly guestRoot: string;
  open(path: VolumePath, request: OpenRequest): Opened;
  stat(path: VolumePath, follow: boolean): Filestat;
  /** The entries of a directory, "." and ".." first, then by name. */
  list(path: VolumePath): DirEntry[];
  createDirectory(path: VolumePath): void;
  removeDirectory(path: VolumePath): void;
  unlinkFile(path: VolumePath): void;
  rename(from: VolumePath, to: VolumePath): void;
  link(from: VolumePath, to: VolumePath): void;
  setTimes(path: VolumePath, follow: boolean, times: NewTimes): void;
}
