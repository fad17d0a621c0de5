// Guest RAM as the host sees it: the memory-backend-file on tmpfs. Read, digested page by page and
// bit-flipped while the VM is paused, without going through QEMU.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { PageImage } from '../../pages/digest.js';
import { PAGE_SIZE } from '../../pages/hash/page-hasher.js';
import { QemuProcessError, QemuRequestError } from './errors.js';

/** Guest pages are the shared page digest's pages (file offset = guest physical address). */
export const pageSize = PAGE_SIZE;

/** Reads the whole open file `fd` into `target`, which is as long as the file. */
function readFully(fd: number, target: Uint8Array): void {
  for (let done = 0; done < target.length; ) {
    const read = readSync(fd, target, done, target.length - done, done);
    if (read === 0) throw new QemuProcessError(`guest RAM ended at byte ${done} of ${target.length}: its QEMU is gone`);
    done += read;
  }
}

export class RamFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** The whole of guest RAM read straight into a page image (one read of the tmpfs file, no copy). */
  readImage(): PageImage {
    const fd = openSync(this.path, 'r');
    try {
      const image = new PageImage(fstatSync(fd).size);
      readFully(fd, image.bytes);
      return image;
    } finally {
      closeSync(fd);
    }
  }

  /** The whole of guest RAM as a buffer (tests and the benchmark search and compare it). */
  readAll(): Buffer {
    const fd = openSync(this.path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(fstatSync(fd).size);
      readFully(fd, buffer);
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
