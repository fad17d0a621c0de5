import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBitflip, parseCorruptInput, parseDuration, parseSize, UsageError } from './parse.js';

test('bit flips name a VM, an epoch and optionally an address and a bit', () => {
  assert.deepEqual(parseBitflip('primary@epoch=3'), { target: 'primary', epoch: 3, fault: { kind: 'bitflip', bit: 0 } });
  assert.deepEqual(parseBitflip('shadow2@epoch=7,addr=0x1000,bit=5'), {
    target: 'shadow2',
    epoch: 7,
    fault: { kind: 'bitflip', bit: 5, address: 4096 },
  });
});

test('malformed fault specs are usage errors that show the expected form', () => {
  for (const bad of [
    'primary',
    'primary@',
    'vm@epoch=3',
    'primary@epoch=0',
    'primary@epoch=x',
    'primary@epoch=2,bit=9',
    'primary@epoch=2,color=1',
  ]) {
    assert.throws(
      () => parseBitflip(bad),
      (error: unknown) => error instanceof UsageError && error.message.includes('--inject-bitflip'),
      bad,
    );
  }
  assert.throws(() => parseCorruptInput('shadow1@epoch=2'), /seq= is missing|unknown field/);
  assert.deepEqual(parseCorruptInput('shadow1@seq=4'), { target: 'shadow1', epoch: 1, fault: { kind: 'corrupt-input', seq: 4 } });
});

test('sizes and durations accept the usual units and refuse the rest', () => {
  assert.equal(parseSize('--memory', '512M'), 512 * 2 ** 20);
  assert.equal(parseSize('--memory', '2GiB'), 2 * 2 ** 30);
  assert.throws(() => parseSize('--memory', 'lots'), /not a size/);
  assert.equal(parseDuration('--timeout', '1.5s'), 1500);
  assert.throws(() => parseDuration('--timeout', '10'), /not a duration/);
});
