import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeFilestat,
  decodeListing,
  decodeStatus,
  decodeU64,
  encodeFilestat,
  encodeListing,
  encodeStatus,
  encodeU64,
  liveRead,
} from './payload.js';

test('status payloads keep data first and the errno last', () => {
  const payload = encodeStatus(0, Uint8Array.of(65, 66));
  assert.deepEqual(payload, Uint8Array.of(65, 66, 0, 0));
  assert.deepEqual(decodeStatus(payload), { errno: 0, body: Uint8Array.of(65, 66) });
  assert.deepEqual(decodeStatus(encodeStatus(44)), { errno: 44, body: new Uint8Array(0) });
});

test('payloads too short to carry a status decode as EIO (29)', () => {
  assert.equal(decodeStatus(Uint8Array.of(1)).errno, 29);
});

test('a live read keeps only the bytes read, and a host error becomes its errno', () => {
  const read = liveRead(8, (into) => {
    into.set([1, 2, 3]);
    return 3;
  });
  assert.deepEqual(read, Uint8Array.of(1, 2, 3, 0, 0));
  const missing = liveRead(8, () => {
    throw Object.assign(new Error('gone'), { code: 'ENOENT' });
  });
  assert.deepEqual(decodeStatus(missing), { errno: 44, body: new Uint8Array(0) });
});

test('clock payloads are 8 bytes; short ones decode to what they hold', () => {
  assert.equal(encodeU64(1_700_000_000_123_456_789n).length, 8);
  assert.equal(decodeU64(encodeU64(1_700_000_000_123_456_789n)), 1_700_000_000_123_456_789n);
  assert.equal(decodeU64(Uint8Array.of(1, 1)), 257n);
  assert.equal(decodeU64(new Uint8Array(0)), 0n);
});

test('filestats and listings survive a round trip; a cut listing keeps its whole entries', () => {
  const stat = { dev: 1n, ino: 2n, filetype: 4, nlink: 1n, size: 10n, atim: 3n, mtim: 4n, ctim: 5n };
  assert.deepEqual(decodeFilestat(encodeFilestat(stat)), stat);
  assert.equal(decodeFilestat(Uint8Array.of(1, 2, 3)).dev, 0x030201n);
  const entries = [
    { name: '.', ino: 7n, filetype: 3 },
    { name: 'naïve.txt', ino: 8n, filetype: 4 },
  ];
  const listing = encodeListing(entries);
  assert.deepEqual(decodeListing(listing), entries);
  assert.deepEqual(decodeListing(listing.subarray(0, listing.length - 1)), entries.slice(0, 1));
});
