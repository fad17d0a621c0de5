// Page digests of memory that is not a wasm guest's own (QEMU's RAM file, a checkpoint's pages):
// the same SIMD digest the wasm driver computes in place, so every driver's StateDigest means the
// same thing. The bytes live in a WebAssembly.Memory of their own, which a caller may fill
// directly (one read of a RAM file, no copy).

import { createPageHasher, DIGEST_SIZE, PAGE_SIZE, type PageHasher } from './hash/page-hasher.js';

const WASM_PAGE = 65536;

/** Bytes to digest page by page, held where the digest reads them. */
export class PageImage {
  private readonly memory: WebAssembly.Memory;
  private readonly hasher: PageHasher;

  constructor(readonly byteLength: number) {
    if (byteLength % PAGE_SIZE !== 0) throw new RangeError(`${byteLength} bytes is not a whole number of ${PAGE_SIZE}-byte pages`);
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(byteLength / WASM_PAGE)) });
    this.hasher = createPageHasher(this.memory);
  }

  /** The image's bytes, to fill before `digest()`. */
  get bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer, 0, this.byteLength);
  }

  /** 16 bytes per page, page i at [16 i, 16 i + 16). */
  digest(): Uint8Array {
    const pages = this.byteLength / PAGE_SIZE;
    const out = new Uint8Array(pages * DIGEST_SIZE);
    this.hasher.hashPages(0, pages, out);
    return out;
  }
}

/** Per-page digests of `bytes` (copied once into an image of their own). */
export function digestPages(bytes: Uint8Array): Uint8Array {
  const image = new PageImage(bytes.length);
  image.bytes.set(bytes);
  return image.digest();
}

let zeroDigests: Uint8Array = new Uint8Array(0);

/**
 * Pages whose digest is not that of an all-zero page at the same index (digests mix in the page
 * index): the memory in use as the host sees it, for guests whose memory size never changes.
 */
export function pagesInUse(pageHashes: Uint8Array): number {
  if (zeroDigests.length < pageHashes.length) zeroDigests = new PageImage((pageHashes.length / DIGEST_SIZE) * PAGE_SIZE).digest();
  let used = 0;
  for (let at = 0; at < pageHashes.length; at += DIGEST_SIZE) {
    if (Buffer.compare(pageHashes.subarray(at, at + DIGEST_SIZE), zeroDigests.subarray(at, at + DIGEST_SIZE)) !== 0) used++;
  }
  return used;
}
