import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CorruptDeltaError, PageLengthMismatchError } from './errors.js';
import { applyPageDelta, differingBytes, encodePageDelta } from './xor-delta.js';

const PAGE = 4096;

function roundTrip(primary: Uint8Array, shadow: Uint8Array): Uint8Array {
  const delta = encodePageDelta(primary, shadow);
  // Compare as plain Uint8Arrays: random inputs are Buffers, decoded pages are not.
  assert.deepEqual(new Uint8Array(applyPageDelta(primary, delta)), new Uint8Array(shadow));
  return delta;
}

test('equal pages encode to a single byte', () => {
  const page = randomBytes(PAGE);
  assert.equal(roundTrip(page, Uint8Array.from(page)).length, 1);
});

test('one flipped bit costs a few bytes wherever it is', () => {
  const primary = randomBytes(PAGE);
  for (const at of [0, 1, 2, 3, 1000, PAGE - 2, PAGE - 1]) {
    const shadow = Uint8Array.from(primary);
    shadow[at] = (shadow[at] as number) ^ 0x10;
    assert.ok(roundTrip(primary, shadow).length <= 6, `bit at ${at}`);
  }
});

test('scattered small changes and close-together runs round-trip', () => {
  const primary = new Uint8Array(PAGE);
  const shadow = Uint8Array.from(primary);
  for (const at of [5, 7, 9, 12, 100, 101, 2048, 4090, 4095]) shadow[at] = 0xff;
  assert.ok(roundTrip(primary, shadow).length < 40);
});

test('random pages round-trip and never grow much beyond a page', () => {
  for (let i = 0; i < 20; i++) {
    const delta = roundTrip(randomBytes(PAGE), randomBytes(PAGE));
    assert.ok(delta.length <= PAGE + 8);
  }
});

test('a page full of a repetitive difference is deflated below its run encoding', () => {
  const primary = new Uint8Array(PAGE);
  const shadow = new Uint8Array(PAGE).fill(0x2a);
  assert.ok(roundTrip(primary, shadow).length < 100);
});

test('unaligned views round-trip', () => {
  const backing = randomBytes(PAGE + 3);
  const primary = backing.subarray(1, PAGE + 1);
  const shadow = Uint8Array.from(primary);
  shadow[17] = (shadow[17] as number) + 1;
  shadow[PAGE - 5] = (shadow[PAGE - 5] as number) + 1;
  roundTrip(primary, shadow);
});

test('pages of different lengths are refused', () => {
  assert.throws(() => encodePageDelta(new Uint8Array(PAGE), new Uint8Array(PAGE / 2)), PageLengthMismatchError);
});

test('damaged deltas fail with a typed error instead of a wrong page', () => {
  const primary = new Uint8Array(PAGE);
  const shadow = Uint8Array.from(primary);
  shadow[PAGE - 1] = 1;
  const delta = encodePageDelta(primary, shadow);
  assert.throws(() => applyPageDelta(new Uint8Array(16), delta), CorruptDeltaError);
  assert.throws(() => applyPageDelta(primary, new Uint8Array([9])), CorruptDeltaError);
  assert.throws(() => applyPageDelta(primary, new Uint8Array([1, 0xde, 0xad])), CorruptDeltaError);
  assert.throws(() => applyPageDelta(primary, new Uint8Array(0)), CorruptDeltaError);
});

test('differing bytes are counted byte by byte', () => {
  const a = new Uint8Array(PAGE).fill(7);
  const b = Uint8Array.from(a);
  assert.equal(differingBytes(a, b), 0);
  b[0] = 8;
  b[PAGE - 1] = 7 ^ 0x80;
  b[100] = 0;
  assert.equal(differingBytes(a, b), 3);
  assert.throws(() => differingBytes(a, new Uint8Array(PAGE / 2)), PageLengthMismatchError);
});
