// How the answers to nondeterministic requests are encoded as gate payloads. Payloads may be
// corrupted on purpose (fault injection flips bits of byte 0) or come from a diverging log, so
// every decoder accepts any bytes and never throws. Status-carrying payloads put the errno LAST,
// so that byte 0 is data whenever there is data.

import { Errno, Filetype, Layout } from './abi.js';
import { hostErrno, SyscallError } from './errors.js';

const STATUS_BYTES = 2;

/** File metadata as preview1's filestat carries it. */
export interface Filestat {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly filetype: number;
  readonly nlink: bigint;
  readonly size: bigint;
  readonly atim: bigint;
  readonly mtim: bigint;
  readonly ctim: bigint;
}

/** One directory entry, including "." and "..". */
export interface DirEntry {
  readonly name: string;
  readonly ino: bigint;
  readonly filetype: number;
}

export interface StatusPayload {
  readonly errno: number;
  readonly body: Uint8Array;
}

export function encodeStatus(errno: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const payload = new Uint8Array(body.length + STATUS_BYTES);
  payload.set(body);
  writeStatus(payload, body.length, errno);
  return payload;
}

export function decodeStatus(payload: Uint8Array): StatusPayload {
  if (payload.length < STATUS_BYTES) return { errno: Errno.IO, body: new Uint8Array(0) };
  const end = payload.length - STATUS_BYTES;
  return { errno: (payload[end] ?? 0) | ((payload[end + 1] ?? 0) << 8), body: payload.subarray(0, end) };
}

/** The body of a status payload, or its errno thrown as the result of the WASI call. */
export function bodyOf(payload: Uint8Array): Uint8Array {
  const { errno, body } = decodeStatus(payload);
  if (errno !== Errno.SUCCESS) throw new SyscallError(errno);
  return body;
}

/** Runs a live operation that yields a body; a thrown host error becomes its errno. */
export function liveStatus(operation: () => Uint8Array): Uint8Array {
  try {
    return encodeStatus(Errno.SUCCESS, operation());
  } catch (error) {
    return encodeStatus(hostErrno(error));
  }
}

/**
 * Runs a live read of up to `length` bytes straight into the payload (no extra copy of the data).
 * `fill` returns how many bytes it wrote; a thrown host error becomes its errno.
 */
export function liveRead(length: number, fill: (into: Uint8Array) => number): Uint8Array {
  const payload = new Uint8Array(length + STATUS_BYTES);
  let count: number;
  try {
    count = Math.max(0, Math.min(length, fill(payload.subarray(0, length))));
  } catch (error) {
    return encodeStatus(hostErrno(error));
  }
  writeStatus(payload, count, Errno.SUCCESS);
  const used = count + STATUS_BYTES;
  // A short read must not keep (and make the recorder clone) the whole buffer alive.
  return used === payload.length ? payload : payload.slice(0, used);
}

function writeStatus(payload: Uint8Array, at: number, errno: number): void {
  payload[at] = errno & 0xff;
  payload[at + 1] = (errno >>> 8) & 0xff;
}

export function encodeU64(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
  return bytes;
}

export function decodeU64(payload: Uint8Array): bigint {
  if (payload.length >= 8) return new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0, true);
  let value = 0n;
  for (let i = Math.min(payload.length, 8) - 1; i >= 0; i--) value = (value << 8n) | BigInt(payload[i] ?? 0);
  return value;
}

/** A filestat in preview1's layout: the guest's struct and the payload of a stat are the same bytes. */
export function encodeFilestat(stat: Filestat): Uint8Array {
  const bytes = new Uint8Array(Layout.FILESTAT_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, stat.dev), true);
  view.setBigUint64(8, BigInt.asUintN(64, stat.ino), true);
  view.setUint8(16, stat.filetype);
  view.setBigUint64(24, BigInt.asUintN(64, stat.nlink), true);
  view.setBigUint64(32, BigInt.asUintN(64, stat.size), true);
  view.setBigUint64(40, BigInt.asUintN(64, stat.atim), true);
  view.setBigUint64(48, BigInt.asUintN(64, stat.mtim), true);
  view.setBigUint64(56, BigInt.asUintN(64, stat.ctim), true);
  return bytes;
}

export function decodeFilestat(body: Uint8Array): Filestat {
  const bytes = new Uint8Array(Layout.FILESTAT_SIZE);
  bytes.set(body.subarray(0, Layout.FILESTAT_SIZE));
  const view = new DataView(bytes.buffer);
  return {
    dev: view.getBigUint64(0, true),
    ino: view.getBigUint64(8, true),
    filetype: knownFiletype(view.getUint8(16)),
    nlink: view.getBigUint64(24, true),
    size: view.getBigUint64(32, true),
    atim: view.getBigUint64(40, true),
    mtim: view.getBigUint64(48, true),
    ctim: view.getBigUint64(56, true),
  };
}

const encoder = new TextEncoder();
const nameDecoder = new TextDecoder();

/** A listing as: per entry, u64 ino, u8 filetype, u32 name length, UTF-8 name. */
export function encodeListing(entries: readonly DirEntry[]): Uint8Array {
  const names = entries.map((entry) => encoder.encode(entry.name));
  const bytes = new Uint8Array(names.reduce((total, name) => total + 13 + name.length, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  entries.forEach((entry, i) => {
    const name = names[i] ?? new Uint8Array(0);
    view.setBigUint64(at, BigInt.asUintN(64, entry.ino), true);
    view.setUint8(at + 8, entry.filetype);
    view.setUint32(at + 9, name.length, true);
    bytes.set(name, at + 13);
    at += 13 + name.length;
  });
  return bytes;
}

/** Decodes what it can: a truncated or corrupted tail ends the listing. */
export function decodeListing(body: Uint8Array): DirEntry[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const entries: DirEntry[] = [];
  let at = 0;
  while (at + 13 <= body.length) {
    const length = view.getUint32(at + 9, true);
    if (at + 13 + length > body.length) break;
    entries.push({
      ino: view.getBigUint64(at, true),
      filetype: knownFiletype(view.getUint8(at + 8)),
      name: nameDecoder.decode(body.subarray(at + 13, at + 13 + length)),
    });
    at += 13 + length;
  }
  return entries;
}

function knownFiletype(filetype: number): number {
  return filetype <= Filetype.SYMBOLIC_LINK ? filetype : Filetype.UNKNOWN;
}
