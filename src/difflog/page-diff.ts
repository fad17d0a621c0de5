// Which pages differ between two replicas, from their per-page digests (StateDigest.pageHashes).
// Whole tables are usually equal or differ in a handful of pages, so equal stretches are skipped
// with native memcmp (Buffer#compare) and only differing stretches are walked digest by digest.

import { DigestLengthError } from './errors.js';

const DIGEST_BYTES = 16;
/** Digests compared per native call before descending into single digests. */
const BLOCK_DIGESTS = 64;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Indices of pages whose 16-byte digests differ between `a` and `b`, ascending. Pages present on
 * only one side (memory grew on one replica) count as differing.
 */
export function diffPageHashes(a: Uint8Array, b: Uint8Array): number[] {
  if (a.length % DIGEST_BYTES !== 0) throw new DigestLengthError(a.length);
  if (b.length % DIGEST_BYTES !== 0) throw new DigestLengthError(b.length);
  const left = asBuffer(a);
  const right = asBuffer(b);
  if (a.length === b.length && left.compare(right) === 0) return [];

  const differing: number[] = [];
  const common = Math.min(a.length, b.length);
  const blockBytes = BLOCK_DIGESTS * DIGEST_BYTES;
  for (let block = 0; block < common; block += blockBytes) {
    const blockEnd = Math.min(block + blockBytes, common);
    if (left.compare(right, block, blockEnd, block, blockEnd) === 0) continue;
    for (let at = block; at < blockEnd; at += DIGEST_BYTES) {
      if (left.compare(right, at, at + DIGEST_BYTES, at, at + DIGEST_BYTES) !== 0) differing.push(at / DIGEST_BYTES);
    }
  }
  const longest = Math.max(a.length, b.length);
  for (let at = common; at < longest; at += DIGEST_BYTES) differing.push(at / DIGEST_BYTES);
  return differing;
}
