// Free-running (COLO-style) computations run the way a user runs them (`shadowvm run --driver qemu
// --mode free`). A guest that finishes: replicas get there at their own pace, which is no
// divergence, and the output is exact. With HTTP traffic sent to the address the run prints:
// benign drift between the primary and its clone raises nothing, a corrupted mirrored request
// makes the shadow's answer differ, the analysis predicts a failure, and the primary and a fresh
// clone are rolled back to the last verified checkpoint and run on.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ComputationReport } from '../../computation/report.js';
import { skipWithout } from '../../host-tools.js';
import { openStore } from '../../store/open.js';
import { httpGet } from './free-harness.js';
import { ensureGuest } from './guest-build.js';
import { qemuProcessesUnder } from './leaks.js';
import { runtimeRoot } from './process.js';
import { expectedRound, printedRounds } from './testing.js';

const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** Waits until the run's store holds `count` epochs of its one computation. */
async function epochsLogged(path: string, count: number): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (existsSync(path)) {
      const store = openStore(path);
      try {
        const [row] = store.computations.list();
        if (row && store.difflog.readEpochs(row.id).length >= count) return;
      } finally {
        store.close();
      }
    }
    await sleep(100);
  }
  assert.fail(`the run did not log ${count} epochs in 2 minutes`);
}

test('free-running through the manager: a guest that finishes ends the run cleanly, output exact, nothing predicted', {
  timeout: 240_000,
  skip: skipWithout('qemu'),
}, async () => {
  await ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-free-run-'));
  try {
    const reportFile = join(dir, 'report.json');
    const rounds = 40;
    const run = spawnSync(
      process.execPath,
      [
        main,
        'run',
        '--driver',
        'qemu',
        '--mode',
        'free',
        '--shadows',
        '1',
        '--store',
        join(dir, 'store.db'),
        '--report',
        reportFile,
        '--',
        `shadowvm.rounds=${rounds}`,
      ],
      { encoding: 'utf8', timeout: 200_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ComputationReport;
    assert.deepEqual(report.rollbacks, [], 'a shadow that has not finished yet (or already has) is no divergence');
    assert.deepEqual(
      report.actions.filter((a) => a.cause.kind === 'prediction' && a.cause.level === 'predict-failure'),
      [],
    );
    assert.deepEqual(
      printedRounds(run.stdout),
      Array.from({ length: rounds }, (_, i) => expectedRound(i + 1, 3000)),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('free-running through the manager: a corrupted mirrored request is predicted, rolled back, and the run goes on', {
  timeout: 240_000,
  skip: skipWithout('qemu'),
}, async () => {
  await ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-free-run-'));
  try {
    const reportFile = join(dir, 'report.json');
    const run = spawn(
      process.execPath,
      [
        main,
        'run',
        '--driver',
        'qemu',
        '--mode',
        'free',
        '--shadows',
        '1',
        '--max-epochs',
        '36',
        // The shadow's first mirrored request arrives corrupted; requests start after the warm-up.
        '--inject-corrupt-input',
        'shadow1@seq=0',
        '--store',
        join(dir, 'store.db'),
        '--report',
        reportFile,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    run.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ended = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));

    let port: number | undefined;
    for (let i = 0; i < 600 && port === undefined; i++) {
      port = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]) || undefined;
      await sleep(100);
    }
    assert.ok(port !== undefined, `the run prints the guest's HTTP address:\n${stderr}`);
    // The engine learns the pair's answers over a warm-up of epochs, not of seconds: on a loaded
    // host the clone's first epochs take longer, and a corrupted answer inside the warm-up scores 0.
    await epochsLogged(join(dir, 'store.db'), 8);
    let served = 0;
    let running = true;
    void ended.then(() => (running = false));
    while (running) {
      if ((await httpGet(port, '/data')).status === 200) served++;
      await sleep(300);
    }
    assert.equal(await ended, 124, `the run ends at --max-epochs:\n${stderr}`);
    assert.ok(served > 10, `${served} requests served`);
    assert.deepEqual(qemuProcessesUnder(join(runtimeRoot, `m-${run.pid}-`)), [], 'no QEMU outlives the run');
    assert.deepEqual(
      readdirSync(runtimeRoot).filter((name) => name.startsWith(`m-${run.pid}-`)),
      [],
      'no runtime file outlives the run',
    );

    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ComputationReport;
    const failures = report.actions.filter(
      (a) => a.actor === 'policy' && a.cause.kind === 'prediction' && a.cause.level === 'predict-failure',
    );
    // One prediction (for the corrupted request only, charged to its pair's shadow), acted on: an
    // alert, and the recovery of both sides of the pair (one shadow cannot say which drifted).
    assert.deepEqual(failures.map((f) => f.kind).sort(), ['alert', 'refork', 'rollback'], JSON.stringify(report.actions));
    assert.equal(new Set(failures.map((f) => f.epoch)).size, 1);
    assert.match(failures.find((f) => f.kind === 'alert')?.vm ?? '', /\/shadow1$/);
    assert.equal(report.rollbacks.length, 1);
    assert.match(report.rollbacks[0]?.outcome ?? '', /verified checkpoint/);
    assert.equal(report.reforks.length, 1, 'the shadow restarts beside the restored primary');
    assert.equal(report.verifiedEpochs, 36);
    assert.deepEqual(
      report.attribution.map((a) => [a.basis, a.differsIn.length]),
      [['drift', 0]],
      'same profile: not a configuration difference',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
