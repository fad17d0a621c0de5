// The page digest as WebAssembly text: 128-bit SIMD, several independent accumulators per page so
// the CPU overlaps their multiply latencies, and a mixing step built only from bijections.
//
// Why a change inside one 16-byte chunk always changes the digest (not just probably):
// a digest reads its input as 16-byte chunks, chunk c going to accumulator c mod 8. Each step is
//     acc ← P(M · (acc ⊕ chunk))
// with M · x a lane-wise i32 multiply by odd constants (invertible mod 2^32) and P a fixed byte
// permutation. For a fixed chunk the step is a bijection of acc, and for a fixed acc it is a
// bijection of the chunk. So if two inputs differ only in one chunk, the accumulator that reads it
// differs right after that step, stays different through every later step (same chunks, bijective
// steps), and the other accumulators are equal. The fold XORs F_j(acc_j) for bijections F_j, so
// it differs too, and the finalizer is a bijection again. A single bit flip is such a change.
// The tweak (page index or byte length, domain) is XORed in before the finalizer, so identical
// content at two page indices, or bytes and the same bytes with zeros appended within their last
// 128-byte block (zero padding makes the blocks equal), always give two different digests too.
// Changes spread over several chunks are caught only with high probability (128 bits, all lanes
// mixed): this is a fast non-cryptographic digest, not a defence against crafted collisions.

/** Independent accumulators; 8 × 16 bytes = one block. */
const ACCUMULATORS = 8;
export const BLOCK_BYTES = ACCUMULATORS * 16;

/** Domain words in the tweak, so a page digest never equals a byte digest of the same bytes. */
export const DOMAIN_PAGE = 0x50414745; // "PAGE"
export const DOMAIN_BYTES = 0x42595445; // "BYTE"

/** Odd 32-bit multipliers (odd ⇒ invertible mod 2^32); well-spread bits, from xxHash's primes. */
const MULTIPLIERS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f];

/**
 * Byte k of output lane i is byte 3-k of input lane i+k (mod 4). A lane-wise multiply only carries
 * low bits upward, so its best-mixed byte is the top one; this moves every top byte to the bottom
 * of another lane, and gives each lane one byte of every lane, so the next multiply mixes all four
 * lanes. (A permutation that kept lanes apart would leave four independent 32-bit hashes.)
 */
const PERMUTATION = Array.from({ length: 16 }, (_, byte) => {
  const [lane, k] = [byte >> 2, byte & 3];
  return 4 * ((lane + k) % 4) + (3 - k);
});

function vector(lanes: readonly number[]): string {
  return `(v128.const i32x4 ${lanes.map((lane) => `0x${(lane >>> 0).toString(16)}`).join(' ')})`;
}

/** The bijective step P(M · x). */
function mix(x: string): string {
  return `(i8x16.shuffle ${PERMUTATION.join(' ')} (i32x4.mul ${x} ${vector(MULTIPLIERS)}) (v128.const i64x2 0 0))`;
}

/** Distinct non-zero starting values, so zero input does not leave an accumulator at zero. */
function seed(j: number): number[] {
  return [1, 2, 3, 4].map((k) => Math.imul(4 * j + k, 0x61c88647));
}

const accumulators = [...Array(ACCUMULATORS).keys()];

/**
 * Module importing the memory to hash as env.memory and exporting
 * `digest(ptr, len, t0, t1, t2) -> v128` over `len` bytes at `ptr` (a multiple of BLOCK_BYTES),
 * with the tweak [t0, t1, t2, len]. A shared memory needs a shared import (with a maximum).
 */
export function coreModuleText(shared: boolean): string {
  const memory = shared ? '(memory 0 65536 shared)' : '(memory 0)';
  const local = (j: number): string => `(local.get $a${j})`;
  return `(module
  (import "env" "memory" ${memory})
  (func (export "digest") (param $p i32) (param $len i32) (param $t0 i32) (param $t1 i32) (param $t2 i32) (result v128)
    (local $left i32) ${accumulators.map((j) => `(local $a${j} v128)`).join(' ')} (local $h v128)
    ${accumulators.map((j) => `(local.set $a${j} ${vector(seed(j))})`).join('\n    ')}
    ;; counting down the length (not up to p + len) cannot wrap at the top of a 4 GiB memory
    (local.set $left (local.get $len))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $left)))
      ${accumulators.map((j) => `(local.set $a${j} ${mix(`(v128.xor ${local(j)} (v128.load offset=${16 * j} align=1 (local.get $p)))`)})`).join('\n      ')}
      (local.set $p (i32.add (local.get $p) (i32.const ${BLOCK_BYTES})))
      (local.set $left (i32.sub (local.get $left) (i32.const ${BLOCK_BYTES})))
      (br $next)))
    (local.set $h (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
      (i32x4.splat (local.get $t0)) (local.get $t1)) (local.get $t2)) (local.get $len)))
    ;; F_j(x) = P(M · (x ⊕ K_j)): distinct bijections, so equal accumulators never cancel out
    ${accumulators.map((j) => `(local.set $h (v128.xor (local.get $h) ${mix(`(v128.xor ${local(j)} ${vector([j + 11, j + 23, j + 37, j + 41])})`)}))`).join('\n    ')}
    ;; finalizer: xorshift (x ⊕ x >> s is invertible) then the step, three times, for avalanche
    ${[15, 13, 16].map((s) => `(local.set $h ${mix(`(v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const ${s})))`)})`).join('\n    ')}
    (local.get $h)))`;
}

/**
 * The digests must land somewhere JS can read, but without multi-memory (not in Node 20) a module
 * has one memory and the core's is the guest's. So a second module owns a small output memory and
 * calls the core: v128 results may cross between wasm instances, just not into JS. One call per
 * batch: measured 16.9 GB/s, against 13.3 GB/s for one JS call per page reading four i32 globals.
 */
export const OUTPUT_PAGE_CAPACITY = 4096; // digests per call: 64 KiB, one wasm page

export function outputModuleText(pageSize: number): string {
  const pageShift = Math.log2(pageSize);
  return `(module
  (import "core" "digest" (func $digest (param i32 i32 i32 i32 i32) (result v128)))
  (memory (export "out") 1)
  ;; digests of pages first .. first+count-1 (count <= ${OUTPUT_PAGE_CAPACITY}) to out[16 i]
  (func (export "hashPages") (param $first i32) (param $count i32)
    (local $i i32) (local $page i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $page (i32.add (local.get $first) (local.get $i)))
      (v128.store (i32.shl (local.get $i) (i32.const 4))
        (call $digest (i32.shl (local.get $page) (i32.const ${pageShift})) (i32.const ${pageSize})
          (local.get $page) (i32.const 0) (i32.const ${DOMAIN_PAGE})))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  )
  ;; content-only digest of len bytes at ptr (padded to a block), tweak = original length
  (func (export "hashRange") (param $ptr i32) (param $len i32) (param $lengthLow i32) (param $lengthHigh i32)
    (v128.store (i32.const 0)
      (call $digest (local.get $ptr) (local.get $len) (local.get $lengthLow) (local.get $lengthHigh) (i32.const ${DOMAIN_BYTES}))))
)`;
}
