// Record a C guest's inputs on the primary, replay them on a replica that never sees the outside
// world, and compare what both produced; a replica that asks something else diverges cleanly.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { skipWithout } from '../../../host-tools.js';
import { ReplayDivergenceError } from './errors.js';
import { ChainedGate, END_OF_LOG, type GateRecord, RecordingGate, ReplayGate } from './gate.js';
import { compileC, OutputLog, runGuest, stdinOf, watchedStdin } from './guest-fixture.js';

const MIXED_INPUTS = String.raw`
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char in[64] = {0};
  fread(in, 1, sizeof in - 1, stdin);
  FILE *f = fopen(argv[1], "rb");
  if (!f) { printf("open %s failed: %d\n", argv[1], errno); return 2; }
  char data[64] = {0};
  fread(data, 1, sizeof data - 1, f);
  fclose(f);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned char r[16];
  getentropy(r, sizeof r);
  struct stat st;
  stat(argv[1], &st);
  printf("stdin=%s file=%s size=%lld time=%lld.%09ld random=", in, data, (long long)st.st_size, (long long)ts.tv_sec, ts.tv_nsec);
  for (int i = 0; i < 16; i++) printf("%02x", r[i]);
  printf("\n");
  DIR *d = opendir("/input");
  struct dirent *e;
  while ((e = readdir(d))) printf("entry %s\n", e->d_name);
  closedir(d);
  usleep(1000);
  FILE *o = fopen("/scratch/out.txt", "w");
  fprintf(o, "%s|%s", in, data);
  fclose(o);
  mkdir("/scratch/sub", 0755);
  FILE *p = fopen("/scratch/sub/random.bin", "wb");
  fwrite(r, 1, sizeof r, p);
  fclose(p);
  return 0;
}
`;

const THREE_DRAWS = String.raw`
#include <stdio.h>
#include <unistd.h>
int main(void) {
  for (int n = 0; n < 3; n++) {
    unsigned char r[8];
    getentropy(r, sizeof r);
    for (int i = 0; i < 8; i++) printf("%02x", r[i]);
    printf("\n");
  }
  return 0;
}
`;

describe('record and replay of a C guest', { skip: skipWithout('clang') }, () => {
  let inputDir = '';
  let mixed: WebAssembly.Module;
  let draws: WebAssembly.Module;

  before(() => {
    inputDir = mkdtempSync(join(tmpdir(), 'shadowvm-input-'));
    writeFileSync(join(inputDir, 'a.txt'), 'alpha');
    writeFileSync(join(inputDir, 'b.txt'), 'bravo!');
    mixed = compileC('mixed', MIXED_INPUTS);
    draws = compileC('draws', THREE_DRAWS);
  });
  after(() => rmSync(inputDir, { recursive: true, force: true }));

  const recordPrimary = (args: string[]) => {
    const records: GateRecord[] = [];
    const out = new OutputLog();
    const run = runGuest(mixed, {
      args,
      env: {},
      stdin: stdinOf('hello'),
      inputDir: { guestPath: '/input', hostPath: inputDir },
      scratchDir: { guestPath: '/scratch' },
      gate: new RecordingGate((kind, payload) => records.push({ kind, payload })),
      output: out.output,
    });
    return { run, out, records };
  };

  const replayer = (records: readonly GateRecord[]) => {
    let next = 0;
    const mismatches: [string, string][] = [];
    const gate = new ReplayGate(
      () => records[next++],
      (expected, got) => mismatches.push([expected, got]),
    );
    return { gate, mismatches };
  };

  test('a replica replaying the records produces byte-identical stdout and scratch files', () => {
    const primary = recordPrimary(['mixed', '/input/a.txt']);
    assert.equal(primary.run.exitCode, 0, primary.out.text('stdout'));
    const stdout = primary.out.text('stdout');
    assert.match(stdout, /^stdin=hello file=alpha size=5 time=\d+\.\d{9} random=[0-9a-f]{32}\n/);
    assert.match(stdout, /entry \.\nentry \.\.\nentry a\.txt\nentry b\.txt\n/);
    const kinds = primary.records.map((record) => record.kind);
    for (const kind of [
      'fd_read fd=0 len=',
      'path_open path=/input/a.txt follow=1',
      'fd_read path=/input/a.txt off=0',
      'clock_time_get id=0',
      'random_get len=16',
      'path_filestat_get path=/input/a.txt follow=1',
      'fd_readdir path=/input',
      'poll_oneoff clock(',
    ]) {
      assert.ok(
        kinds.some((k) => k.startsWith(kind)),
        `no input record starting with "${kind}" in ${kinds.join(', ')}`,
      );
    }

    const stdin = watchedStdin();
    const out = new OutputLog();
    const { gate, mismatches } = replayer(primary.records);
    const replica = runGuest(mixed, {
      args: ['mixed', '/input/a.txt'],
      env: {},
      stdin,
      // The replica's input dir does not even exist: it may only see the primary's records.
      inputDir: { guestPath: '/input', hostPath: join(inputDir, 'absent') },
      scratchDir: { guestPath: '/scratch' },
      gate,
      output: out.output,
    });
    assert.deepEqual(mismatches, []);
    assert.equal(stdin.reads, 0);
    assert.equal(replica.exitCode, 0);
    assert.deepEqual(out.bytes('stdout'), primary.out.bytes('stdout'));
    assert.deepEqual(replica.scratch, primary.run.scratch);
    assert.deepEqual([...replica.scratch.keys()], ['/scratch/out.txt', '/scratch/sub/random.bin']);
    assert.equal(Buffer.from(replica.scratch.get('/scratch/out.txt') ?? []).toString(), 'hello|alpha');
    const random = primary.records.find((record) => record.kind === 'random_get len=16');
    assert.deepEqual(replica.scratch.get('/scratch/sub/random.bin'), random?.payload);
    assert.deepEqual(out.bytes('file:/scratch/out.txt'), primary.out.bytes('file:/scratch/out.txt'));
    assert.equal(Buffer.from(out.bytes('file:/scratch/out.txt')).toString(), 'hello|alpha');
  });

  test('a replica that asks for another file reports the mismatch and stops with ReplayDivergenceError', () => {
    const primary = recordPrimary(['mixed', '/input/a.txt']);
    const { gate, mismatches } = replayer(primary.records);
    assert.throws(
      () =>
        runGuest(mixed, {
          args: ['mixed', '/input/b.txt'],
          env: {},
          stdin: watchedStdin(),
          inputDir: { guestPath: '/input', hostPath: inputDir },
          scratchDir: { guestPath: '/scratch' },
          gate,
          output: () => {},
        }),
      ReplayDivergenceError,
    );
    assert.deepEqual(mismatches, [['path_open path=/input/a.txt follow=1', 'path_open path=/input/b.txt follow=1']]);
  });

  test('a replica that runs past the end of the log diverges', () => {
    const primary = recordPrimary(['mixed', '/input/a.txt']);
    const { gate, mismatches } = replayer(primary.records.slice(0, 2));
    assert.throws(
      () =>
        runGuest(mixed, {
          args: ['mixed', '/input/a.txt'],
          env: {},
          stdin: watchedStdin(),
          inputDir: { guestPath: '/input', hostPath: inputDir },
          scratchDir: { guestPath: '/scratch' },
          gate,
          output: () => {},
        }),
      ReplayDivergenceError,
    );
    assert.equal(mismatches.length, 1);
    assert.equal(mismatches[0]?.[0], END_OF_LOG);
    assert.equal(mismatches[0]?.[1], primary.records[2]?.kind);
  });

  test('ChainedGate replays the log, then takes and records live inputs', () => {
    const recorded: GateRecord[] = [];
    const first = new OutputLog();
    runGuest(draws, {
      args: ['draws'],
      env: {},
      stdin: watchedStdin(),
      gate: new RecordingGate((kind, payload) => recorded.push({ kind, payload })),
      output: first.output,
    });
    assert.deepEqual(
      recorded.map((record) => record.kind),
      ['random_get len=8', 'random_get len=8', 'random_get len=8'],
    );

    const log = recorded.slice(0, 2);
    let next = 0;
    const fresh: GateRecord[] = [];
    const gate = new ChainedGate(
      () => log[next++],
      () => assert.fail('no mismatch expected'),
      (kind, payload) => fresh.push({ kind, payload }),
    );
    const second = new OutputLog();
    runGuest(draws, { args: ['draws'], env: {}, stdin: watchedStdin(), gate, output: second.output });

    const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('hex');
    const lines = second.text('stdout').trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), [hex(recorded[0]?.payload), hex(recorded[1]?.payload)]);
    assert.equal(gate.isLive, true);
    assert.deepEqual(
      fresh.map((record) => record.kind),
      ['random_get len=8'],
    );
    assert.equal(lines[2], hex(fresh[0]?.payload));
    assert.notEqual(lines[2], hex(recorded[2]?.payload), 'the third draw must be new, not replayed');
  });
});
