import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayDivergenceError } from './errors.js';
import { ChainedGate, END_OF_LOG, type GateRecord, RecordingGate, ReplayGate } from './gate.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const never = (): Uint8Array => assert.fail('a replaying gate went to the outside world');

test('RecordingGate performs the request and records exactly what it returns', () => {
  const records: GateRecord[] = [];
  const gate = new RecordingGate((kind, payload) => records.push({ kind, payload }));
  assert.deepEqual(
    gate.take('random_get len=2', () => bytes(7, 9)),
    bytes(7, 9),
  );
  assert.deepEqual(records, [{ kind: 'random_get len=2', payload: bytes(7, 9) }]);
});

test('ReplayGate returns the recorded payloads in order without performing anything', () => {
  const log: GateRecord[] = [
    { kind: 'a', payload: bytes(1) },
    { kind: 'b', payload: bytes(2) },
  ];
  let next = 0;
  const gate = new ReplayGate(
    () => log[next++],
    () => assert.fail('no mismatch expected'),
  );
  assert.deepEqual(gate.take('a', never), bytes(1));
  assert.deepEqual(gate.take('b', never), bytes(2));
});

test('ReplayGate reports a different request once, then refuses everything without consuming', () => {
  const log: GateRecord[] = [
    { kind: 'clock_time_get id=0', payload: bytes(1) },
    { kind: 'random_get len=4', payload: bytes(2) },
  ];
  let next = 0;
  const mismatches: [string, string][] = [];
  const gate = new ReplayGate(
    () => log[next++],
    (expected, got) => mismatches.push([expected, got]),
  );
  assert.throws(() => gate.take('random_get len=4', never), ReplayDivergenceError);
  assert.throws(() => gate.take('random_get len=4', never), ReplayDivergenceError);
  assert.deepEqual(mismatches, [['clock_time_get id=0', 'random_get len=4']]);
  assert.equal(next, 1);
});

test('ReplayGate treats the end of the log as a divergence', () => {
  const mismatches: [string, string][] = [];
  const gate = new ReplayGate(
    () => undefined,
    (expected, got) => mismatches.push([expected, got]),
  );
  assert.throws(
    () => gate.take('fd_read fd=0 len=10', never),
    (error: unknown) => error instanceof ReplayDivergenceError && error.got === 'fd_read fd=0 len=10',
  );
  assert.deepEqual(mismatches, [[END_OF_LOG, 'fd_read fd=0 len=10']]);
});

test('ChainedGate replays until the log ends, then goes live for good and records', () => {
  const log: GateRecord[] = [{ kind: 'a', payload: bytes(1) }];
  let next = 0;
  let asked = 0;
  const recorded: GateRecord[] = [];
  const gate = new ChainedGate(
    () => {
      asked++;
      return log[next++];
    },
    () => assert.fail('no mismatch expected'),
    (kind, payload) => recorded.push({ kind, payload }),
  );
  assert.deepEqual(gate.take('a', never), bytes(1));
  assert.equal(gate.isLive, false);
  assert.deepEqual(
    gate.take('b', () => bytes(2)),
    bytes(2),
  );
  assert.deepEqual(
    gate.take('c', () => bytes(3)),
    bytes(3),
  );
  assert.equal(gate.isLive, true);
  assert.equal(asked, 2, 'once live, the log is not asked again');
  assert.deepEqual(recorded, [
    { kind: 'b', payload: bytes(2) },
    { kind: 'c', payload: bytes(3) },
  ]);
});

test('ChainedGate still reports a divergence while replaying', () => {
  const mismatches: [string, string][] = [];
  const gate = new ChainedGate(
    () => ({ kind: 'a', payload: bytes(1) }),
    (expected, got) => mismatches.push([expected, got]),
    () => assert.fail('nothing may be recorded after a divergence'),
  );
  assert.throws(() => gate.take('b', () => bytes(2)), ReplayDivergenceError);
  assert.throws(() => gate.take('a', () => bytes(2)), ReplayDivergenceError);
  assert.deepEqual(mismatches, [['a', 'b']]);
});
