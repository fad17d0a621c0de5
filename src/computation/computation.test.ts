// End to end on real guests (guests/bin) and a real SQLite store: replay determinism, detection
// of every injected bit flip at its epoch, votes, rollback to a correct result.

import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { type ComputationConfig, DEFAULT_CONFIG } from './config.js';
import { launch } from './launch.js';
import type { ComputationReport } from './report.js';
import { wasmComputation } from './spec.js';

const guest = (name: string) => fileURLToPath(new URL(`../../../guests/bin/${name}.wasm`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'shadowvm-computation-'));
const store: Store = openStore(join(dir, 'test.db'));
after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly report: ComputationReport;
  readonly stdout: Buffer;
}

async function run(
  name: string,
  args: string[],
  config: Partial<ComputationConfig>,
  options: { stdin?: string; inputDir?: string } = {},
): Promise<Run> {
  const chunks: Buffer[] = [];
  let fd: number | undefined;
  if (options.stdin !== undefined) {
    const path = join(dir, `stdin-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path, options.stdin);
    fd = openSync(path, 'r');
  }
  try {
    const report = await launch({
      spec: wasmComputation({
        module: guest(name),
        args,
        env: { LANG: 'C' },
        ...(options.inputDir ? { inputDir: options.inputDir } : {}),
        stdin: fd !== undefined ? 'live' : 'none',
        config: { ...DEFAULT_CONFIG, ...config },
      }),
      ...(fd !== undefined ? { context: { stdinFd: fd } } : {}),
      store,
      sink: { write: (stream, bytes) => (stream === 'stdout' ? chunks.push(Buffer.from(bytes)) : undefined) },
    });
    return { report, stdout: Buffer.concat(chunks) };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

test("shadows replaying the primary's inputs match it at every epoch (stdin, files, clocks, randomness, sleeps)", async () => {
  const inputDir = join(dir, 'input');
  mkdirSync(inputDir, { recursive: true });
  writeFileSync(join(inputDir, 'greeting.txt'), 'hello from the input directory\n');
  const cases: [string, string[], string | undefined][] = [
    ['io', ['greeting.txt'], 'some stdin text\nsecond line\n'],
    ['stdin_sum', [], Array.from({ length: 2000 }, (_, i) => `${i * 7}\n`).join('')],
    ['pipeline', ['7', '20000', '-'], '3 1700000000 21.5\n9 1700000060 19.25\n'],
    ['recurse', ['22', '2', '200'], undefined],
  ];
  for (const [name, args, stdin] of cases) {
    const { report } = await run(
      name,
      args,
      { shadows: 2, epochs: { events: 50_000, syscalls: 4, maxEpochMs: 0 } },
      { inputDir, ...(stdin !== undefined ? { stdin } : {}) },
    );
    assert.equal(
      report.exitCode,
      0,
      `${name} ended ${report.end}: ${JSON.stringify([...report.events.filter((e) => e.kind === 'note'), ...report.verdicts])}`,
    );
    assert.ok(report.epochs >= 3, `${name} ran ${report.epochs} epochs`);
    assert.deepEqual(report.divergences, [], `${name} diverged`);
    assert.equal(report.verifiedEpochs, report.epochs, `${name}: every epoch verified`);
  }
});

test("the replayed clock and randomness are the primary's: shadows print the same bytes", async () => {
  const first = await run('io', [], { shadows: 1 }, { stdin: 'x\n' });
  const second = await run('io', [], { shadows: 1 }, { stdin: 'x\n' });
  assert.equal(first.report.divergences.length, 0);
  // Two separate computations read different random bytes: the output is not a constant.
  assert.notDeepEqual(first.stdout, second.stdout);
});

test('a bit flipped in the primary is detected at the epoch of injection, outvoted, and rolled back to the right output', async () => {
  const args = ['11', '30000'];
  const reference = await run('pipeline', args, { shadows: 0, epochs: { events: 400_000, syscalls: 0, maxEpochMs: 0 } });
  assert.equal(reference.report.exitCode, 0);
  const epochs = reference.report.epochs;
  assert.ok(epochs >= 6, `reference ran ${epochs} epochs`);
  for (const [epoch, address] of [
    [2, undefined],
    [Math.floor(epochs / 2), 4096 + 17],
    [epochs - 1, undefined],
  ] as const) {
    const faulted = await run('pipeline', args, {
      shadows: 2,
      checkpointEvery: 2,
      epochs: { events: 400_000, syscalls: 0, maxEpochMs: 0 },
      faults: [{ target: 'primary', epoch, fault: { kind: 'bitflip', bit: 6, ...(address !== undefined ? { address } : {}) } }],
    });
    const first = faulted.report.divergences[0];
    assert.ok(first, `flip at epoch ${epoch} was detected`);
    assert.equal(first.epoch, epoch, 'detected at the epoch of injection');
    assert.equal(first.pages, 1, 'exactly the flipped page differs');
    assert.deepEqual(
      faulted.report.verdicts.map((v) => [v.epoch, v.kind, v.blamed]),
      [[epoch, 'primary-diverged', [`${faulted.report.computationId}/primary`]]],
    );
    assert.equal(faulted.report.rollbacks.length, 1);
    assert.ok(
      faulted.report.events.some((e) => e.kind === 'restore-verified') || faulted.report.checkpoints.every((c) => c.epoch >= epoch),
      'the rollback re-reached its checkpoint',
    );
    assert.equal(faulted.report.exitCode, 0);
    assert.deepEqual(faulted.stdout, reference.stdout, `output after rollback from a flip at epoch ${epoch}`);
  }
});

test('a faulty shadow is named by the vote, discarded and re-forked; the primary keeps going', async () => {
  const reference = await run('pipeline', ['5', '20000'], { shadows: 0, epochs: { events: 300_000, syscalls: 0, maxEpochMs: 0 } });
  const faulted = await run('pipeline', ['5', '20000'], {
    shadows: 2,
    epochs: { events: 300_000, syscalls: 0, maxEpochMs: 0 },
    faults: [{ target: 'shadow2', epoch: 3, fault: { kind: 'bitflip', bit: 1 } }],
  });
  assert.equal(faulted.report.divergences[0]?.epoch, 3);
  assert.match(faulted.report.divergences[0]?.vm ?? '', /shadow2$/);
  assert.deepEqual(
    faulted.report.verdicts.map((v) => [v.epoch, v.kind, v.blamed]),
    [[3, 'shadows-diverged', [`${faulted.report.computationId}/shadow2`]]],
  );
  assert.equal(faulted.report.rollbacks.length, 0);
  assert.equal(faulted.report.reforks.length, 1);
  assert.ok(
    faulted.report.replicas.some((r) => r.id.endsWith('shadow2#2')),
    'a second generation of shadow2 ran',
  );
  assert.deepEqual(faulted.stdout, reference.stdout);
});

test('a corrupted replayed input makes that shadow diverge, not crash', async () => {
  const faulted = await run(
    'stdin_sum',
    [],
    { shadows: 2, faults: [{ target: 'shadow1', epoch: 1, fault: { kind: 'corrupt-input', seq: 0 } }] },
    { stdin: '1\n2\n3\n' },
  );
  assert.equal(faulted.report.exitCode, 0);
  assert.ok(
    faulted.report.divergences.some((d) => d.vm.endsWith('shadow1')),
    'shadow1 diverged',
  );
  assert.ok(
    faulted.report.divergences.every((d) => !d.vm.endsWith('shadow2')),
    'shadow2 did not',
  );
  assert.match(faulted.stdout.toString(), /total 6 over 3 numbers/);
});

test('shadows on other V8 tiers in separate processes agree with the primary', async () => {
  const { report } = await run('pipeline', ['3', '10000'], {
    shadows: 2,
    shadowProfiles: ['process/liftoff', 'process/turbofan'],
    epochs: { events: 500_000, syscalls: 0, maxEpochMs: 0 },
  });
  assert.equal(report.exitCode, 0);
  assert.deepEqual(report.divergences, []);
  assert.deepEqual(report.replicas.map((r) => r.profile).sort(), ['process/liftoff', 'process/turbofan', 'thread/v8']);
});

test('10 000 healthy epochs give no false divergence', async () => {
  const { report } = await run('recurse', ['27', '2', '400'], {
    shadows: 1,
    checkpointEvery: 1000,
    epochs: { events: 60, syscalls: 0, maxEpochMs: 0 },
  });
  assert.equal(report.exitCode, 0);
  assert.ok(report.epochs >= 10_000, `ran ${report.epochs} epochs`);
  assert.equal(report.divergences.length, 0);
  assert.equal(report.verifiedEpochs, report.epochs);
});
