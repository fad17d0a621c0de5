// Guest RAM as the host sees it: the memory-backend-file on tmpfs. Read, digested page by page and
// bit-flipped while the VM is paused, without going through QEMU.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import xxhash from 'xxhash-wasm';
import { QemuRequestError } from './errors.js';

export const pageSize = 4096;

type H64 = (input: Uint8Array, seed?: bigint) => bigint;
let hasher: Promise<H64> | undefined;
const h64 = (): Promise<H64> => (hasher ??= xxhash().then((api) => api.h64Raw));

// Two independent 64-bit hashes make the 16-byte page digest the interface asks for.
const secondSeed = 0x9e3779b97f4a7c15n;

/** 16 bytes per page: xxh64 with two seeds. */
export async function digestPages(memory: Uint8Array): Promise<Uint8Array> {
  const hash = await h64();
  const pages = Math.floor(memory.length / pageSize);
  const out = new Uint8Array(pages * 16);
  const view = new DataView(out.buffer);
  for (let page = 0; page < pages; page++) {
    const bytes = memory.subarray(page * pageSize, (page + 1) * pageSize);
    view.setBigUint64(page * 16, hash(bytes, 0n));
    view.setBigUint64(page * 16 + 8, hash(bytes, secondSeed));
  }
  return out;
}

let zeroDigest: Promise<Uint8Array> | undefined;
/** The digest of a page of zeros: the pages a guest never touched (or freed and zeroed). */
export const zeroPageDigest = (): Promise<Uint8Array> => (zeroDigest ??= digestPages(new Uint8Array(pageSize)));

/**
 * Pages of guest RAM holding anything but zeros: the guest's memory in use as the host sees it
 * (the RAM size itself never changes, so it says nothing about growth).
 */
export function pagesInUse(pageHashes: Uint8Array, zero: Uint8Array): number {
  let used = 0;
  for (let at = 0; at < pageHashes.length; at += 16) {
    if (Buffer.compare(pageHashes.subarray(at, at + 16), zero) !== 0) used++;
  }
  return used;
}

export class RamFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** The whole of guest RAM (one read of the tmpfs file). */
  readAll(): Buffer {
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      const buffer = Buffer.allocUnsafe(size);
      let done = 0;
      while (done < size) done += readSync(fd, buffer, done, size - done, done);
      return buffer;
    } finally {
      closeSync(fd);
    }
  }

  readPages(pages: readonly number[]): Uint8Array[] {
    const fd = openSync(this.path, 'r');
    try {
      return pages.map((page) => {
        const buffer = new Uint8Array(pageSize);
        readSync(fd, buffer, 0, pageSize, page * pageSize);
        return buffer;
      });
    } finally {
      closeSync(fd);
    }
  }

  /** Flips one bit of guest physical memory (a simulated memory fault). */
  flipBit(address: number, bit: number): void {
    if (!Number.isInteger(bit) || bit < 0 || bit > 7) throw new QemuRequestError(`bit ${bit} is not in 0..7`);
    const fd = openSync(this.path, 'r+');
    try {
      if (!Number.isInteger(address) || address < 0 || address >= fstatSync(fd).size) {
        throw new QemuRequestError(`address ${address} is outside guest RAM`);
      }
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, address);
      byte[0] = (byte[0] ?? 0) ^ (1 << bit);
      writeSync(fd, byte, 0, 1, address);
    } finally {
      closeSync(fd);
    }
  }
}
