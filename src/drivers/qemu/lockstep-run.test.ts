// Lockstep computations on a real TCG guest, run the way a user runs them (`shadowvm run --driver
// qemu`): shadows replay the primary's recording and agree with it page for page at every epoch,
// checkpoints are taken (on a replayer) and verified, a bit flipped in the primary's RAM is
// outvoted at its epoch and rolled back, the guest's output is exactly what its workload computes,
// and nothing is left behind.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ComputationReport } from '../../computation/report.js';
import { skipWithout } from '../../host-tools.js';
import { ensureGuest } from './guest-build.js';
import { qemuProcessesUnder } from './leaks.js';
import { runtimeRoot } from './process.js';
import { expectedRound, printedRounds } from './testing.js';

const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const size = 200;

interface LockstepRun {
  readonly report: ComputationReport;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI on the default guest for `rounds` workload rounds; asserts it ended cleanly. */
async function runLockstep(rounds: number, flags: readonly string[]): Promise<LockstepRun> {
  await ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-lockstep-'));
  try {
    const reportFile = join(dir, 'report.json');
    const result = spawnSync(
      process.execPath,
      [
        main,
        'run',
        '--driver',
        'qemu',
        '--store',
        join(dir, 'store.db'),
        '--report',
        reportFile,
        ...flags,
        '--',
        `shadowvm.rounds=${rounds}`,
        `shadowvm.size=${size}`,
      ],
      { encoding: 'utf8', timeout: 380_000 },
    );
    assert.deepEqual(qemuProcessesUnder(join(runtimeRoot, `m-${result.pid}-`)), [], 'no QEMU outlives the run');
    assert.deepEqual(
      readdirSync(runtimeRoot).filter((name) => name.startsWith(`m-${result.pid}-`)),
      [],
      'no runtime file outlives the run',
    );
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      printedRounds(result.stdout),
      Array.from({ length: rounds }, (_, i) => expectedRound(i + 1, size)),
    );
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ComputationReport;
    return { report, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('lockstep through the manager: every epoch verified page for page, output exact', {
  timeout: 400_000,
  skip: skipWithout('qemu'),
}, async () => {
  const { report } = await runLockstep(3, ['--shadows', '1', '--epoch-ms', '200ms']);
  assert.deepEqual(report.divergences, []);
  assert.ok(report.epochs >= 20, `${report.epochs} epochs`);
  assert.equal(report.verifiedEpochs, report.epochs);
  assert.ok(report.checkpoints.length >= 4 && report.checkpoints.every((c) => c.verified), JSON.stringify(report.checkpoints));
});

test('lockstep through the manager: a bit flip in the primary is outvoted at its epoch and rolled back, output exact', {
  timeout: 400_000,
  skip: skipWithout('qemu'),
}, async () => {
  const flipAt = 6;
  const { report, stderr } = await runLockstep(3, ['--shadows', '2', '--inject-bitflip', `primary@epoch=${flipAt}`]);
  // Both shadows see the same single page differ at the flip's epoch, and nothing else ever differs.
  assert.deepEqual(
    report.divergences.map((d) => [d.epoch, d.pages]),
    [
      [flipAt, 1],
      [flipAt, 1],
    ],
  );
  assert.equal(report.rollbacks.length, 1);
  assert.match(
    stderr,
    new RegExp(
      `epoch ${flipAt}: rollback c-\\w+/primary \\(vote: .*\\): applied: c-\\w+/primary#2 restores verified checkpoint k-\\w+ \\(epoch [1-5]\\)`,
    ),
  );
  const restored = report.replicas.find((r) => r.id.endsWith('/primary#2'));
  assert.equal(restored?.end, 'exit 0', JSON.stringify(report.replicas));
  assert.ok(report.epochs > flipAt, `${report.epochs} epochs`);
});
