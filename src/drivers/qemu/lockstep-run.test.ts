// A lockstep computation on a real TCG guest, run the way a user runs it (`shadowvm run --driver
// qemu`): the shadow replays the primary's recording and agrees with it page for page at every
// epoch, checkpoints are taken (on the replayer) and verified, the guest's output is exactly what
// its workload computes, and nothing is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComputationReport } from '../../manager/report.js';
import { ensureGuest } from './guest-build.js';
import { qemuProcessesUnder } from './leaks.js';
import { runtimeRoot } from './process.js';
import { lockstepGate } from './testing.js';

const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** What the guest's workload prints for round n (init.sh: seq n n+size | sha256sum | cut -c1-16). */
function expectedRound(n: number, size: number): string {
  let text = '';
  for (let i = n; i <= n + size; i++) text += `${i}\n`;
  return `round ${n} sum ${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

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
    const printed = result.stdout.split('\n').filter((line) => line.startsWith('shadowvm: round')).map((line) => line.slice('shadowvm: '.length));
    assert.deepEqual(printed, Array.from({ length: rounds }, (_, i) => expectedRound(i + 1, size)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
