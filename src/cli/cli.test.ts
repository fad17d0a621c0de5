// The shadowvm command as a user runs it: a real process, real guests, a real SQLite file.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { meanAbsModel } from '../analysis/onnx-model.fixture.js';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const guest = (name: string) => fileURLToPath(new URL(`../../../guests/bin/${name}.wasm`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'shadowvm-cli-'));
const store = join(dir, 'cli.db');
after(() => rmSync(dir, { recursive: true, force: true }));

function shadowvm(args: string[], input = '') {
  const result = spawnSync(process.execPath, [main, ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SHADOWVM_STORE: store },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function assertOneLineError(result: ReturnType<typeof shadowvm>, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

let goodId = '';

test('run behaves like the guest alone: stdin in, stdout out, exit code back', () => {
  const result = shadowvm(['run', guest('stdin_sum'), '--shadows', '2', '--json'], '1\n2\n39\n');
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /total 42 over 3 numbers/);
  const report = JSON.parse(result.stderr.trim().split('\n').pop() ?? '{}') as { computationId: string; divergences: unknown[] };
  assert.deepEqual(report.divergences, []);
  goodId = report.computationId;
  const exit = shadowvm(['run', guest('trap'), '--quiet', '--', '7', '1000']);
  assert.equal(exit.code, 7);
  assert.match(exit.stdout, /checksum/);
});

test('a bit flip in the primary is reported, rolled back, and the output is still right', () => {
  const clean = shadowvm(['run', guest('pipeline'), '--quiet', '--shadows', '0', '--', '9', '20000']);
  const reportFile = join(dir, 'report.json');
  const faulted = shadowvm([
    'run',
    guest('pipeline'),
    '--epoch-events',
    '300000',
    '--inject-bitflip',
    'primary@epoch=3',
    '--report',
    reportFile,
    '--',
    '9',
    '20000',
  ]);
  assert.equal(faulted.code, 0, faulted.stderr);
  assert.equal(faulted.stdout, clean.stdout);
  assert.match(faulted.stderr, /epoch 3: vote: the primary diverged \(c-\w+\/primary outvoted\)/);
  assert.match(faulted.stderr, /epoch 3: rollback c-\w+\/primary \(vote: .*\): applied: .*restores/);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
    divergences: { epoch: number }[];
    rollbacks: unknown[];
    replicas: { profile: string }[];
  };
  assert.equal(report.divergences[0]?.epoch, 3);
  assert.equal(report.rollbacks.length, 1);
  assert.ok(report.replicas.every((r) => typeof r.profile === 'string'));
});

test('a shadow on another profile that diverges is attributed to the dimensions it differs in', () => {
  const reportFile = join(dir, 'attribution.json');
  const run = shadowvm([
    'run',
    guest('pipeline'),
    '--epoch-events',
    '300000',
    '--shadows',
    '2',
    '--profiles',
    'thread/v8,process/liftoff',
    '--inject-bitflip',
    'shadow2@epoch=3',
    '--report',
    reportFile,
    '--',
    '9',
    '20000',
  ]);
  assert.equal(run.code, 0, run.stderr);
  type Blame = { vm: string; profile: string; epochs: number[]; basis: string; reference: string; differsIn: { dimension: string }[] };
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { attribution: Blame[] };
  assert.equal(report.attribution.length, 1, 'only the outvoted replica is blamed, not the shadow that agreed');
  const [blamed] = report.attribution;
  assert.match(blamed?.vm ?? '', /\/shadow2$/);
  assert.equal(blamed?.profile, 'process/liftoff');
  assert.deepEqual(blamed?.epochs, [3]);
  assert.equal(blamed?.basis, 'vote');
  assert.equal(blamed?.reference, 'thread/v8');
  assert.deepEqual(
    blamed?.differsIn.map((d) => d.dimension),
    ['host', 'tiers'],
  );
  assert.match(
    run.stderr,
    /shadow2 \(process\/liftoff\) outvoted at epoch 3; its profile differs from thread\/v8 in host \(child-process vs worker-thread\)/,
  );

  // The primary outvoted by its shadows, compared with the first of that majority (shadow1, on
  // the primary's own profile): the configuration is not the cause.
  const primaryFault = shadowvm([
    'run',
    guest('pipeline'),
    '--epoch-events',
    '300000',
    '--inject-bitflip',
    'primary@epoch=3',
    '--report',
    reportFile,
    '--',
    '9',
    '20000',
  ]);
  assert.equal(primaryFault.code, 0, primaryFault.stderr);
  const primaryReport = JSON.parse(readFileSync(reportFile, 'utf8')) as { attribution: Blame[] };
  assert.deepEqual(
    primaryReport.attribution.map((a) => [a.vm.replace(/^.*\//, ''), a.basis, a.differsIn.length]),
    [['primary', 'vote', 0]],
  );
});

test('a model the policy names scores its feature in the run, and a model that is not there is one line', () => {
  writeFileSync(join(dir, 'mean-abs.onnx'), meanAbsModel(2));
  const policy = (model: string) => {
    const path = join(dir, `policy-${model}.yaml`);
    writeFileSync(path, `detectors:\n  memoryBytes: { detector: onnx, model: ${model}, window: 2 }\n`);
    return path;
  };
  // The model scores |memory in bytes| clamped to 1 once its window is full (epoch 2): a behaviour
  // feature, so at most a warning, which needs two epochs in a row.
  const run = shadowvm([
    'run',
    guest('pipeline'),
    '--shadows',
    '0',
    '--epoch-events',
    '500000',
    '--policy',
    policy('mean-abs.onnx'),
    '--',
    '9',
    '4000',
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /alert firing warn .*vm=\S+\/primary epoch=3 score=0\.800/);
  assertOneLineError(
    shadowvm(['run', guest('stdin_sum'), '--policy', policy('missing.onnx')]),
    2,
    /detectors\.memoryBytes\.model: missing\.onnx not found/,
  );
});

test('bad inputs give one clear line and a non-zero exit, and the store stays intact', () => {
  const notWasm = join(dir, 'notes.wasm');
  writeFileSync(notWasm, 'this is text, not a module\n');
  assertOneLineError(shadowvm(['run', notWasm]), 2, /not a WebAssembly module/i);
  assertOneLineError(shadowvm(['run', guest('reactor')]), 2, /_start/);
  assertOneLineError(shadowvm(['run', join(dir, 'missing.wasm')]), 2, /cannot read the guest .*no such file/);
  assertOneLineError(shadowvm(['run', guest('spin'), '--shadows', 'two']), 2, /--shadows two: not a whole number/);
  assertOneLineError(shadowvm(['run', guest('spin'), '--frobnicate']), 2, /run: .*frobnicate/);
  assertOneLineError(shadowvm(['run', guest('spin'), '--inject-bitflip', 'shadow5@epoch=2']), 2, /shadow5.*raise --shadows/);
  assertOneLineError(shadowvm(['log', 'c-doesnotexist']), 3, /no computation c-doesnotexist; shadowvm list shows the ids/);
  assertOneLineError(shadowvm(['frob']), 2, /unknown command frob/);

  const trap = shadowvm(['run', guest('trap'), '--', 'trap', '1000']);
  assert.equal(trap.code, 134, trap.stderr);
  assert.match(trap.stderr, /trap: .*unreachable/);
  const runaway = shadowvm(['run', guest('spin'), '--timeout', '2s', '--epoch-events', '1000000']);
  assert.equal(runaway.code, 124, runaway.stderr);
  assert.match(runaway.stderr, /runaway: .*time limit/);

  const list = shadowvm(['list']);
  assert.match(list.stdout, new RegExp(`${goodId}\\s+stdin_sum.wasm\\s+succeeded\\s+0`));
  const log = shadowvm(['log', goodId, '--all']);
  assert.equal(log.code, 0, log.stderr);
  assert.match(log.stdout, new RegExp(`computation ${goodId} .*succeeded, exit code 0`));
  assert.match(log.stdout, /epoch 1: verified/);
});
