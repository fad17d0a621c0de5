import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vote } from './vote.js';

const keys = (entries: [string, string | undefined][]) => new Map(entries);

test('all replicas in the same state agree', () => {
  assert.deepEqual(
    vote(
      'primary',
      keys([
        ['primary', 'a'],
        ['shadow1', 'a'],
        ['shadow2', 'a'],
      ]),
    ),
    { kind: 'agree' },
  );
});

test('a shadow outvoted by the primary and the other shadow is named faulty', () => {
  assert.deepEqual(
    vote(
      'primary',
      keys([
        ['primary', 'a'],
        ['shadow1', 'b'],
        ['shadow2', 'a'],
      ]),
    ),
    { kind: 'shadows-diverged', faulty: ['shadow1'] },
  );
});

test('a primary outvoted by two agreeing shadows is named faulty', () => {
  assert.deepEqual(
    vote(
      'primary',
      keys([
        ['primary', 'x'],
        ['shadow1', 'a'],
        ['shadow2', 'a'],
      ]),
    ),
    { kind: 'primary-diverged', faulty: ['primary'] },
  );
});

test('with one shadow a divergence cannot be attributed', () => {
  assert.deepEqual(
    vote(
      'primary',
      keys([
        ['primary', 'a'],
        ['shadow1', 'b'],
      ]),
    ),
    { kind: 'unattributed', differing: ['shadow1'] },
  );
});

test('three different states have no majority', () => {
  assert.deepEqual(
    vote(
      'primary',
      keys([
        ['primary', 'a'],
        ['shadow1', 'b'],
        ['shadow2', 'c'],
      ]),
    ),
    { kind: 'unattributed', differing: ['shadow1', 'shadow2'] },
  );
});

test('a shadow that gave no state votes alone', () => {
  assert.deepEqual(
    vote(
      'primary',
      keys([
        ['primary', 'a'],
        ['shadow1', undefined],
        ['shadow2', 'a'],
      ]),
    ),
    { kind: 'shadows-diverged', faulty: ['shadow1'] },
  );
  assert.deepEqual(
    vote(
      'primary',
      keys([
        ['primary', 'a'],
        ['shadow1', undefined],
        ['shadow2', undefined],
      ]),
    ),
    { kind: 'unattributed', differing: ['shadow1', 'shadow2'] },
  );
});
