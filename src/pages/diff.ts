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
 * Walks a differing stretch digest by digest. Scattered changes (a checkpoint's 1% dirty pages)
 * make every block differ, so this loop is hot: compare 32-bit words, not per-digest native calls.
 */
function wordWalker(a: Uint8Array, b: Uint8Array): (from: number, to: number, out: number[]) => void {
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length >> 2);
    const y = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
    return (from, to, out) => {
      for (let w = from >> 2; w < to >> 2; w += 4) {
        if (x[w] !== y[w] || x[w + 1] !== y[w + 1] || x[w + 2] !== y[w + 2] || x[w + 3] !== y[w + 3]) out.push(w >> 2);
      }
    };
  }
  return (from, to, out) => {
    for (let at = from; at < to; at += DIGEST_BYTES) {
      for (let i = at; i < at + DIGEST_BYTES; i++) {
        if (a[i] !== b[i]) {
          out.push(at / DIGEST_BYTES);
          break;
        }
      }
    }
  };
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
  const walk = wordWalker(a, b);
  for (let block = 0; block < common; block += blockBytes) {
    const blockEnd = Math.min(block + blockBytes, common);
    if (left.compare(right, block, blockEnd, block, blockEnd) === 0) continue;
    walk(block, blockEnd, differing);
  }
  const longest = Math.max(a.length, b.length);
  for (let at = common; at < longest; at += DIGEST_BYTES) differing.push(at / DIGEST_BYTES);
  return differing;
}
