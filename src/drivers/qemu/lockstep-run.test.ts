// A lockstep computation on a real TCG guest, run the way a user runs it (`shadowvm run --driver
// qemu`): the shadow replays the primary's recording and agrees with it page for page at every
// epoch, checkpoints are taken (on the replayer) and verified, the guest's output is exactly what
// its workload computes, and nothing is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComputationReport } from '../../manager/report.js';
import { ensureGuest } from './guest-build.js';
import { qemuProcessesUnder } from './leaks.js';
import { runtimeRoot } from './process.js';
import { expectedRound, lockstepGate, printedRounds } from './testing.js';

const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

test('lockstep through the manager: every epoch verified page for page, output exact', { timeout: 400_000, skip: lockstepGate() }, async () => {
  await ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-lockstep-'));
  try {
    const reportFile = join(dir, 'report.json');
    const rounds = 2;
    const size = 200;
    const result = spawnSync(process.execPath, [
      main, 'run', '--driver', 'qemu', '--shadows', '1', '--store', join(dir, 'store.db'), '--report', reportFile,
      '--', `shadowvm.rounds=${rounds}`, `shadowvm.size=${size}`,
    ], { encoding: 'utf8', timeout: 380_000 });
    assert.deepEqual(qemuProcessesUnder(join(runtimeRoot, `m-${result.pid}-`)), [], 'no QEMU outlives the run');
    assert.deepEqual(readdirSync(runtimeRoot).filter((name) => name.startsWith(`m-${result.pid}-`)), [], 'no runtime file outlives the run');
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ComputationReport;

    assert.deepEqual(report.divergences, []);
    assert.ok(report.epochs >= 20, `${report.epochs} epochs`);
    assert.equal(report.verifiedEpochs, report.epochs);
    assert.ok(report.checkpoints.length >= 4 && report.checkpoints.every((c) => c.verified), JSON.stringify(report.checkpoints));
    assert.deepEqual(printedRounds(result.stdout), Array.from({ length: rounds }, (_, i) => expectedRound(i + 1, size)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
