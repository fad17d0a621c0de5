import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GOALS } from './goals.js';
import type { BenchLine } from './line.js';
import { runSuites, type Suite } from './runner.js';

const suite =
  (lines: readonly BenchLine[]): (() => Promise<Suite>) =>
  async () => ({ run: async () => lines });
const kept: BenchLine = { name: 'kept', value: 1, unit: '×', goal: GOALS.shadowedWallTime };
const missed: BenchLine = { name: 'missed', value: 1.3, unit: '×', goal: GOALS.shadowedWallTime };
const informational: BenchLine = { name: 'informational', value: 7, unit: 'ms' };

async function run(suites: Readonly<Record<string, () => Promise<Suite>>>) {
  let report = '';
  let warnings = '';
  const code = await runSuites(suites, Object.keys(suites), { write: (t) => (report += t), warn: (t) => (warnings += t) });
  return { code, report, warnings };
}

test('every promise kept: exit code 0', async () => {
  const { code, report } = await run({ a: suite([kept, informational]) });
  assert.equal(code, 0);
  assert.match(report, /every promise kept/);
});

test('a missed promise: exit code 1, and the count is printed', async () => {
  const { code, report } = await run({ a: suite([kept, missed]), b: suite([missed]) });
  assert.equal(code, 1);
  assert.match(report, /2 promise\(s\) missed/);
});

test('a suite that throws: exit code 1, its error reported, the suites after it still run', async () => {
  const broken = async (): Promise<Suite> => ({
    run: async () => {
      throw new Error('no guest here');
    },
  });
  const { code, report, warnings } = await run({ broken, after: suite([kept]) });
  assert.equal(code, 1);
  assert.match(report, /## broken\nFAILED: no guest here\n/);
  assert.match(report, /## after\nkept/);
  assert.match(report, /suite\(s\) failed: broken/);
  assert.match(warnings, /bench broken: Error: no guest here/);
});

test('a suite that does not measure a promise the table gives it fails', async () => {
  const { code, report } = await run({ digest: suite([informational]) });
  assert.equal(code, 1);
  assert.match(report, /FAILED: no line measured digestThroughput/);
});
