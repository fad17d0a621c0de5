// A shadow page is stored as its difference from the primary page: the XOR of the two, which is
// zero wherever they agree. Divergent pages usually differ in a few bytes (a flipped bit, a
// counter), so the XOR is encoded as sparse runs and only deflated when that actually helps.
//
// Wire format: one tag byte, then the body.
//   TAG_RUNS:     repeated [varint zeros skipped][varint run length][run length XOR bytes]
//   TAG_DEFLATED: deflateRaw(the TAG_RUNS body)
// Equal pages encode to the single byte TAG_RUNS.

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CorruptDeltaError, PageLengthMismatchError } from './errors.js';

const TAG_RUNS = 0;
const TAG_DEFLATED = 1;

/**
 * A run ends at this many consecutive agreeing bytes: a shorter gap costs fewer bytes kept inside
 * the run than the two varints (skip, length) that starting a new run would cost.
 */
const RUN_BREAK_GAP = 3;

/** Bodies smaller than this rarely deflate to anything smaller; skip the attempt. */
const DEFLATE_MIN_BODY = 64;

/** Scratch output reused across calls; encoding is synchronous so one buffer suffices. */
let scratch = new Uint8Array(0);

function scratchFor(pageLength: number): Uint8Array {
  // Worst case is one run per 4 input bytes (1 differing + 3 agreeing) at ≤ 3 bytes of varints
  // each, or a single run of the whole page; twice the page plus slack bounds both.
  const needed = pageLength * 2 + 16;
  if (scratch.length < needed) scratch = new Uint8Array(needed);
  return scratch;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

/** Index of the first byte at or after `from` where the pages differ, or `end` if none. */
function nextDifference(primary: Uint8Array, shadow: Uint8Array, from: number, end: number): number {
  let i = from;
  // Word-at-a-time skipping over agreeing stretches when both views are 4-byte aligned.
  if ((primary.byteOffset & 3) === 0 && (shadow.byteOffset & 3) === 0) {
    while (i < end && (i & 3) !== 0) {
      if (primary[i] !== shadow[i]) return i;
      i++;
    }
    const words = (end - i) >>> 2;
    if (words > 0) {
      const pw = new Int32Array(primary.buffer, primary.byteOffset + i, words);
      const sw = new Int32Array(shadow.buffer, shadow.byteOffset + i, words);
      let w = 0;
      while (w < words && pw[w] === sw[w]) w++;
      i += w << 2;
    }
  }
  while (i < end && primary[i] === shadow[i]) i++;
  return i;
}

/** Encodes the sparse-run body into the scratch buffer; returns its length. */
function encodeRuns(primary: Uint8Array, shadow: Uint8Array, out: Uint8Array): number {
  const length = primary.length;
  let at = 0;
  let previousEnd = 0;
  let start = nextDifference(primary, shadow, 0, length);
  while (start < length) {
    let end = start + 1;
    let agreeing = 0;
    while (end < length && agreeing < RUN_BREAK_GAP) {
      agreeing = primary[end] === shadow[end] ? agreeing + 1 : 0;
      end++;
    }
    end -= agreeing;
    at = writeVarint(out, at, start - previousEnd);
    at = writeVarint(out, at, end - start);
    for (let i = start; i < end; i++) out[at++] = (primary[i] as number) ^ (shadow[i] as number);
    previousEnd = end;
    start = nextDifference(primary, shadow, end, length);
  }
  return at;
}

/** How many bytes differ between two pages of the same size (the `diffBytes` feature). */
export function differingBytes(primary: Uint8Array, shadow: Uint8Array): number {
  if (primary.length !== shadow.length) throw new PageLengthMismatchError(primary.length, shadow.length);
  let count = 0;
  for (let i = 0; i < primary.length; i++) if (primary[i] !== shadow[i]) count++;
  return count;
}

/** The compact difference `shadow` ⊕ `primary`; `applyPageDelta(primary, delta)` returns `shadow`. */
export function encodePageDelta(primary: Uint8Array, shadow: Uint8Array): Uint8Array {
  if (primary.length !== shadow.length) throw new PageLengthMismatchError(primary.length, shadow.length);
  const out = scratchFor(primary.length);
  const bodyLength = encodeRuns(primary, shadow, out);
  const body = out.subarray(0, bodyLength);
  if (bodyLength >= DEFLATE_MIN_BODY) {
    const deflated = deflateRawSync(body, { level: 1 });
    if (deflated.length < bodyLength) return withTag(TAG_DEFLATED, deflated);
  }
  return withTag(TAG_RUNS, body);
}

function withTag(tag: number, body: Uint8Array): Uint8Array {
  const encoded = new Uint8Array(body.length + 1);
  encoded[0] = tag;
  encoded.set(body, 1);
  return encoded;
}

/** Rebuilds the shadow page from the primary page and a delta made by `encodePageDelta`. */
export function applyPageDelta(primary: Uint8Array, delta: Uint8Array): Uint8Array {
  const tag = delta[0];
  let body: Uint8Array;
  if (tag === TAG_RUNS) {
    body = delta.subarray(1);
  } else if (tag === TAG_DEFLATED) {
    body = inflateDeflated(delta.subarray(1), primary.length);
  } else {
    throw new CorruptDeltaError(tag === undefined ? 'empty' : `unknown tag ${tag}`);
  }
  const shadow = new Uint8Array(primary); // a copy (Buffer#slice would share memory)
  let at = 0;
  let position = 0;
  while (at < body.length) {
    const skip = readVarint(body, at);
    const length = readVarint(body, skip.next);
    at = length.next;
    position += skip.value;
    if (length.value === 0 || position + length.value > shadow.length || at + length.value > body.length) {
      throw new CorruptDeltaError(`run at byte ${position} overruns the page`);
    }
    for (let i = 0; i < length.value; i++) shadow[position + i] = (shadow[position + i] as number) ^ (body[at + i] as number);
    position += length.value;
    at += length.value;
  }
  return shadow;
}

function inflateDeflated(body: Uint8Array, pageLength: number): Uint8Array {
  try {
    // The run body of a page is bounded by scratchFor's estimate; refuse anything larger.
    return inflateRawSync(body, { maxOutputLength: pageLength * 2 + 16 });
  } catch {
    throw new CorruptDeltaError('deflated body does not inflate');
  }
}

function readVarint(bytes: Uint8Array, from: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let at = from;
  for (;;) {
    const byte = bytes[at++];
    if (byte === undefined || shift > 28) throw new CorruptDeltaError('truncated length');
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: at };
    shift += 7;
  }
}
