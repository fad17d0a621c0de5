import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Candidate, leaveOneCategoryOut, type ScoredFile, scoreAtThreshold } from './loco.js';
import { NAB_PROFILES } from './profiles.js';

// 1000 rows, probation 0..149, one window at 500..599.
function file(category: string, detections: readonly number[], score = 1): ScoredFile {
  const scores = new Float64Array(1000);
  for (const d of detections) scores[d] = score;
  return { series: { name: `${category}/f.csv`, category, rowCount: 1000, windows: [[500, 599]] }, scores };
}

test('scoreAtThreshold normalises like NAB and reports no score for a category without windows', () => {
  const perfect = scoreAtThreshold([file('a', [500])], 0.5, NAB_PROFILES.standard);
  assert.ok(Math.abs(perfect.normalised! - 100) < 1e-9);
  assert.deepEqual([perfect.tp, perfect.fp, perfect.fn], [1, 0, 0]);
  const quiet: ScoredFile = {
    series: { name: 'n/f.csv', category: 'n', rowCount: 1000, windows: [] },
    scores: new Float64Array(1000).fill(1),
  };
  const none = scoreAtThreshold([quiet], 0.5, NAB_PROFILES.standard);
  assert.equal(none.normalised, null);
  assert.equal(none.fp, 850);
});

test('each category is scored with the candidate chosen on the others', () => {
  // "early" detects every window at its start; "noisy" also fires outside the windows of a and b.
  const early: Candidate = { label: 'early', files: [file('a', [500]), file('b', [500]), file('c', [500])] };
  const noisy: Candidate = { label: 'noisy', files: [file('a', [200, 500]), file('b', [200, 500]), file('c', [500])] };
  const results = leaveOneCategoryOut([noisy, early], NAB_PROFILES);
  assert.deepEqual(
    results.map((r) => [r.category, r.chosen]),
    [
      ['a', 'early'],
      ['b', 'early'],
      ['c', 'early'],
    ],
  );
  for (const r of results) assert.ok(Math.abs(r.scores.standard.normalised! - 100) < 1e-9);
});
