// The log reader on hand-made QEMU 7.2 record/replay logs: a stop is clean unless an interrupt,
// exception or async event was logged at the stop count; a half-written event waits for its rest.

import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { QemuProcessError } from './errors.js';
import { ReplayLogReader, replayHeaderSize } from './rr-log.js';

const instructions = (count: number) => {
  const bytes = Buffer.alloc(5);
  bytes.writeUInt32BE(count, 1);
  return bytes;
};
const clockHost = Buffer.from('1c0000000000000001', 'hex');
const checkpointClockHost = Buffer.from([35]);
const interrupt = Buffer.from([1]);
const blockCompletion = Buffer.from('080000000000000007', 'hex');
const serialWrite = Buffer.from('160000000100000000', 'hex');

function withLog(run: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'rr-log-'));
  try {
    const path = join(dir, 'rr.log');
    writeFileSync(path, Buffer.alloc(replayHeaderSize));
    run(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a stop after instructions, clocks and serial output is clean', () => {
  withLog((path) => {
    appendFileSync(path, Buffer.concat([clockHost, instructions(1000), serialWrite, checkpointClockHost, clockHost]));
    assert.equal(new ReplayLogReader(path, 0).cleanStopAt(1000), true);
  });
});

test('an interrupt or async event logged at the stop count makes it ambiguous until more instructions run', () => {
  withLog((path) => {
    const reader = new ReplayLogReader(path, 500);
    appendFileSync(path, Buffer.concat([instructions(1000), interrupt, clockHost]));
    assert.equal(reader.cleanStopAt(1500), false);
    appendFileSync(path, Buffer.concat([instructions(20), clockHost]));
    assert.equal(reader.cleanStopAt(1520), true);
    appendFileSync(path, Buffer.concat([instructions(3), checkpointClockHost, blockCompletion]));
    assert.equal(reader.cleanStopAt(1523), false);
  });
});

test('a half-written event is read once the rest of it arrives', () => {
  withLog((path) => {
    const reader = new ReplayLogReader(path, 0);
    const event = instructions(70_000);
    appendFileSync(path, event.subarray(0, 3));
    assert.throws(() => reader.cleanStopAt(70_000), QemuProcessError);
    appendFileSync(path, event.subarray(3));
    assert.equal(reader.cleanStopAt(70_000), true);
  });
});

test('a log the reader cannot follow is an error, not a guess', () => {
  withLog((path) => {
    appendFileSync(path, Buffer.from([5, 0, 0]));
    assert.throws(() => new ReplayLogReader(path, 0).cleanStopAt(0), QemuProcessError);
  });
});
