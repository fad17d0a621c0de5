// 16-byte digests of guest memory pages at memory speed, read in place from the guest's own
// WebAssembly.Memory (no copy), and of arbitrary byte strings. The algorithm and why a one-chunk
// change always shows is in digest-wat.ts.

import { ShadowvmError } from '../../errors.js';
import { DIGEST_BINARIES } from './digest-binaries.js';
import { BLOCK_BYTES, OUTPUT_PAGE_CAPACITY } from './digest-wat.js';

/** Bytes per page digested (the StateDigest page size). */
export const PAGE_SIZE = 4096;
/** Bytes per digest. */
export const DIGEST_SIZE = 16;

export class PageRangeError extends ShadowvmError {
  constructor(detail: string) {
    super('page-range', `page digest request out of range: ${detail}`);
  }
}

export interface PageHasher {
  /**
   * Digests pages first .. first+count-1 into `out` (16 bytes per page, page first+i at 16 i).
   * Each digest mixes in the page index: the same content at two indices digests differently.
   */
  hashPages(firstPage: number, count: number, out: Uint8Array): void;
}

/** Compiled modules, built once per process from the shipped binaries of digest-wat.ts's text. */
const compiled = new Map<keyof typeof DIGEST_BINARIES, WebAssembly.Module>();

function compile(key: keyof typeof DIGEST_BINARIES): WebAssembly.Module {
  let module = compiled.get(key);
  if (!module) {
    module = new WebAssembly.Module(Buffer.from(DIGEST_BINARIES[key], 'base64'));
    compiled.set(key, module);
  }
  return module;
}

interface DigestInstances {
  readonly exports: {
    hashPages(first: number, count: number): void;
    hashRange(ptr: number, length: number, lengthLow: number, lengthHigh: number): void;
  };
  readonly out: WebAssembly.Memory;
}

function instantiate(memory: WebAssembly.Memory): DigestInstances {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const core = new WebAssembly.Instance(compile(shared ? 'shared-core' : 'core'), { env: { memory } });
  const output = new WebAssembly.Instance(compile('output'), {
    core: { digest: core.exports.digest! },
  });
  return { exports: output.exports as unknown as DigestInstances['exports'], out: output.exports.out as WebAssembly.Memory };
}

/**
 * A hasher over `memory`, shared or not. The memory may grow after this: every call looks at its
 * current size.
 */
export function createPageHasher(memory: WebAssembly.Memory): PageHasher {
  const { exports, out } = instantiate(memory);
  return {
    hashPages(firstPage, count, target) {
      const pages = memory.buffer.byteLength / PAGE_SIZE;
      if (!Number.isInteger(firstPage) || !Number.isInteger(count) || firstPage < 0 || count < 0) {
        throw new PageRangeError(`first page ${firstPage} and count ${count} must be whole non-negative numbers`);
      }
      if (firstPage + count > pages) throw new PageRangeError(`pages ${firstPage}+${count} but memory has ${pages}`);
      if (target.length < count * DIGEST_SIZE) {
        throw new PageRangeError(`${count} digests need ${count * DIGEST_SIZE} bytes of output, got ${target.length}`);
      }
      for (let done = 0; done < count; done += OUTPUT_PAGE_CAPACITY) {
        const batch = Math.min(OUTPUT_PAGE_CAPACITY, count - done);
        exports.hashPages(firstPage + done, batch);
        target.set(new Uint8Array(out.buffer, 0, batch * DIGEST_SIZE), done * DIGEST_SIZE);
      }
    },
  };
}

/** Inputs up to this size reuse one private memory; larger ones get a memory of their own. */
const REUSED_MEMORY_LIMIT = 16 << 20;
const WASM_PAGE = 65536;
let reused: { memory: WebAssembly.Memory; instances: DigestInstances } | undefined;

/** A private memory of at least `bytes` bytes with its digest instances. */
function privateMemory(bytes: number): { memory: WebAssembly.Memory; instances: DigestInstances } {
  const wasmPages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  if (bytes > REUSED_MEMORY_LIMIT) {
    const memory = new WebAssembly.Memory({ initial: wasmPages });
    return { memory, instances: instantiate(memory) };
  }
  if (!reused) {
    const memory = new WebAssembly.Memory({ initial: 1 });
    reused = { memory, instances: instantiate(memory) };
  }
  const have = reused.memory.buffer.byteLength / WASM_PAGE;
  if (wasmPages > have) reused.memory.grow(wasmPages - have);
  return reused;
}

/**
 * Content-only digest of any bytes (no index mixed in: equal bytes, equal digest), for content
 * addressing. The bytes are copied into a private memory, zero-padded to a whole block; the
 * length is part of the digest, so padding never makes two inputs equal.
 */
export function hashBytes(bytes: Uint8Array): Uint8Array {
  const padded = Math.ceil(bytes.length / BLOCK_BYTES) * BLOCK_BYTES;
  const { memory, instances } = privateMemory(padded);
  const view = new Uint8Array(memory.buffer);
  view.set(bytes, 0);
  view.fill(0, bytes.length, padded);
  instances.exports.hashRange(0, padded, bytes.length >>> 0, Math.floor(bytes.length / 2 ** 32));
  return new Uint8Array(instances.out.buffer, 0, DIGEST_SIZE).slice();
}
