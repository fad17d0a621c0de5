import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPageHasher, DIGEST_SIZE, hashBytes, PAGE_SIZE, type PageHasher, PageRangeError } from './page-hasher.js';

const WASM_PAGE = 65536;

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function fillRandom(target: Uint8Array, seed: number): void {
  let x = seed || 1;
  const words = new Uint32Array(target.buffer, target.byteOffset, target.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

function randomMemory(wasmPages: number, seed: number): WebAssembly.Memory {
  const memory = new WebAssembly.Memory({ initial: wasmPages });
  fillRandom(new Uint8Array(memory.buffer), seed);
  return memory;
}

function allDigests(hasher: PageHasher, memory: WebAssembly.Memory): Uint8Array {
  const pages = memory.buffer.byteLength / PAGE_SIZE;
  const out = new Uint8Array(pages * DIGEST_SIZE);
  hasher.hashPages(0, pages, out);
  return out;
}

function digestOf(digests: Uint8Array, page: number): string {
  return Buffer.from(digests.subarray(page * DIGEST_SIZE, (page + 1) * DIGEST_SIZE)).toString('hex');
}

/** Pages whose digest differs between two digest arrays. */
function changedPages(before: Uint8Array, after: Uint8Array): number[] {
  const changed: number[] = [];
  for (let page = 0; page < before.length / DIGEST_SIZE; page++) {
    if (digestOf(before, page) !== digestOf(after, page)) changed.push(page);
  }
  return changed;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('page digests', () => {
  test('every single-bit flip in a page changes that page digest and no other (exhaustive on 4 pages)', () => {
    const memory = randomMemory(1, 7); // 16 pages
    const bytes = new Uint8Array(memory.buffer);
    bytes.fill(0, 5 * PAGE_SIZE, 6 * PAGE_SIZE); // a zero page
    bytes.fill(0xff, 9 * PAGE_SIZE, 10 * PAGE_SIZE); // an all-ones page
    const hasher = createPageHasher(memory);
    const before = allDigests(hasher, memory);
    for (const page of [0, 5, 9, 15]) {
      for (let bit = 0; bit < PAGE_SIZE * 8; bit++) {
        const at = page * PAGE_SIZE + (bit >>> 3);
        bytes[at]! ^= 1 << (bit & 7);
        const after = allDigests(hasher, memory);
        bytes[at]! ^= 1 << (bit & 7);
        const changed = changedPages(before, after);
        if (changed.length !== 1 || changed[0] !== page) assert.fail(`flip of bit ${bit} in page ${page} changed pages ${changed}`);
      }
    }
    assert.deepEqual(allDigests(hasher, memory), before);
  });

  test('random single-bit flips anywhere in 4 MiB change exactly their page', () => {
    const memory = randomMemory(64, 11);
    const bytes = new Uint8Array(memory.buffer);
    const hasher = createPageHasher(memory);
    const before = allDigests(hasher, memory);
    const position = new Uint32Array(1);
    for (let i = 0; i < 500; i++) {
      fillRandom(new Uint8Array(position.buffer), 1000 + i);
      const bit = position[0]! % (bytes.length * 8);
      bytes[bit >>> 3]! ^= 1 << (bit & 7);
      const after = allDigests(hasher, memory);
      bytes[bit >>> 3]! ^= 1 << (bit & 7);
      assert.deepEqual(changedPages(before, after), [Math.floor(bit / 8 / PAGE_SIZE)]);
    }
  });

  test('identical pages at different indices have different digests', () => {
    const memory = new WebAssembly.Memory({ initial: 2 }); // 32 zero pages
    const hasher = createPageHasher(memory);
    const zeros = allDigests(hasher, memory);
    const page = new Uint8Array(PAGE_SIZE);
    fillRandom(page, 3);
    for (let i = 0; i < 32; i++) new Uint8Array(memory.buffer).set(page, i * PAGE_SIZE);
    const copies = allDigests(hasher, memory);
    for (const digests of [zeros, copies]) {
      const distinct = new Set(Array.from({ length: 32 }, (_, i) => digestOf(digests, i)));
      assert.equal(distinct.size, 32);
    }
  });

  test('swapping two pages changes both digests', () => {
    const memory = randomMemory(1, 5);
    const bytes = new Uint8Array(memory.buffer);
    const hasher = createPageHasher(memory);
    const before = allDigests(hasher, memory);
    const page2 = bytes.slice(2 * PAGE_SIZE, 3 * PAGE_SIZE);
    bytes.copyWithin(2 * PAGE_SIZE, 7 * PAGE_SIZE, 8 * PAGE_SIZE);
    bytes.set(page2, 7 * PAGE_SIZE);
    assert.deepEqual(changedPages(before, allDigests(hasher, memory)), [2, 7]);
  });

  test('digests are the same from separate hashers and memories, shared or not', () => {
    const plain = randomMemory(3, 99);
    const shared = new WebAssembly.Memory({ initial: 3, maximum: 8, shared: true });
    new Uint8Array(shared.buffer).set(new Uint8Array(plain.buffer));
    const expected = allDigests(createPageHasher(plain), plain);
    assert.deepEqual(allDigests(createPageHasher(plain), plain), expected);
    assert.deepEqual(allDigests(createPageHasher(shared), shared), expected);
  });

  test('the digest format is stable (known answers)', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const digests = allDigests(createPageHasher(memory), memory);
    assert.equal(digestOf(digests, 0), KNOWN.zeroPage0);
    assert.equal(digestOf(digests, 1), KNOWN.zeroPage1);
    assert.equal(hex(hashBytes(new Uint8Array(0))), KNOWN.empty);
    assert.equal(hex(hashBytes(new TextEncoder().encode('shadowvm'))), KNOWN.shadowvm);
  });

  test('more pages than one batch and a memory that grew after the hasher was made', () => {
    const memory = randomMemory(1, 21);
    const hasher = createPageHasher(memory);
    memory.grow(320); // 5152 pages: more than the 4096 digests of one batch
    fillRandom(new Uint8Array(memory.buffer, WASM_PAGE), 22);
    const pages = memory.buffer.byteLength / PAGE_SIZE;
    const whole = allDigests(hasher, memory);
    const one = new Uint8Array(DIGEST_SIZE);
    for (const page of [0, 15, 16, 4095, 4096, 4097, pages - 1]) {
      hasher.hashPages(page, 1, one);
      assert.equal(hex(one), digestOf(whole, page), `page ${page}`);
    }
  });

  test('requests outside the memory or with a short output are refused with PageRangeError', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const hasher = createPageHasher(memory);
    const out = new Uint8Array(17 * DIGEST_SIZE);
    assert.throws(() => hasher.hashPages(10, 7, out), PageRangeError);
    assert.throws(() => hasher.hashPages(-1, 1, out), PageRangeError);
    assert.throws(() => hasher.hashPages(0.5, 1, out), PageRangeError);
    assert.throws(() => hasher.hashPages(0, 16, new Uint8Array(15 * DIGEST_SIZE)), PageRangeError);
    hasher.hashPages(16, 0, out); // an empty range at the end is fine
  });
});

describe('hashBytes', () => {
  test('depends on content only, and any single-bit flip changes it', () => {
    const data = new Uint8Array(10_000);
    fillRandom(data, 77);
    const digest = hex(hashBytes(data));
    assert.equal(hex(hashBytes(data.slice())), digest);
    for (let bit = 0; bit < data.length * 8; bit += 7) {
      data[bit >>> 3]! ^= 1 << (bit & 7);
      const flipped = hex(hashBytes(data));
      data[bit >>> 3]! ^= 1 << (bit & 7);
      if (flipped === digest) assert.fail(`flip of bit ${bit} kept the digest`);
    }
  });

  test('appending zeros, or hashing a page as bytes, gives a different digest', () => {
    const seen = new Set<string>();
    for (let length = 0; length <= 300; length++) seen.add(hex(hashBytes(new Uint8Array(length))));
    assert.equal(seen.size, 301);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const page0 = allDigests(createPageHasher(memory), memory).subarray(0, DIGEST_SIZE);
    assert.notEqual(hex(hashBytes(new Uint8Array(PAGE_SIZE))), hex(page0));
  });

  test('inputs larger than the reused private memory work', () => {
    const big = new Uint8Array((16 << 20) + 100);
    fillRandom(big.subarray(0, big.length & ~3), 5);
    const digest = hex(hashBytes(big));
    big[big.length - 1] = 1;
    assert.notEqual(hex(hashBytes(big)), digest);
    assert.equal(hex(hashBytes(new Uint8Array(10))), hex(hashBytes(new Uint8Array(10))));
  });
});

/** Digests are stored (checkpoints are addressed by hashBytes): a change here is a format change. */
const KNOWN = {
  zeroPage0: 'dc5b9f4066008d8739e3c33da0d6f306',
  zeroPage1: '8e642b951bd9eecca1ef641646c975a0',
  empty: 'cd7591018aeac088f4b6ffa1776c4aa3',
  shadowvm: '3220934be2e1efeeb2295da4575a5309',
};
