import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { diffPageHashes } from './diff.js';
import { DigestLengthError } from './errors.js';

function tableWith(pages: number): Uint8Array {
  return randomBytes(pages * 16);
}

test('equal tables have no differing pages', () => {
  const a = tableWith(1000);
  assert.deepEqual(diffPageHashes(a, Uint8Array.from(a)), []);
});

test('differing digests are reported by page index, ascending', () => {
  const a = tableWith(1000);
  const b = Uint8Array.from(a);
  for (const page of [0, 63, 64, 500, 999]) b[page * 16 + 15] = (b[page * 16 + 15] as number) ^ 1;
  assert.deepEqual(diffPageHashes(a, b), [0, 63, 64, 500, 999]);
});

test('pages present on one side only count as differing', () => {
  const a = tableWith(10);
  const longer = new Uint8Array(13 * 16);
  longer.set(a);
  longer.fill(7, 10 * 16);
  assert.deepEqual(diffPageHashes(a, longer), [10, 11, 12]);
  assert.deepEqual(diffPageHashes(longer, a), [10, 11, 12]);
  assert.deepEqual(diffPageHashes(new Uint8Array(0), a.subarray(0, 32)), [0, 1]);
});

test('a table that is not whole digests is refused', () => {
  assert.throws(() => diffPageHashes(new Uint8Array(17), new Uint8Array(16)), DigestLengthError);
});
