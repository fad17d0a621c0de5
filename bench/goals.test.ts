// docs/SPECIFICATION.md states every promise of goals.ts with the same number and state: a
// number changed in one place and not the other fails here.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ALL_GOALS, GOALS, goalText, meets, stateText } from './goals.js';

const SPECIFICATION = new URL('../../docs/SPECIFICATION.md', import.meta.url);

/** The promise rows of the specification's tables, | `id` | promise | goal | state |, however padded. */
function specificationRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of readFileSync(SPECIFICATION, 'utf8').split('\n')) {
    if (!line.startsWith('|')) continue;
    const [first = '', ...cells] = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    const id = /^`([^`]+)`$/.exec(first)?.[1];
    if (id === undefined) continue;
    assert.ok(!rows.has(id), `docs/SPECIFICATION.md states ${id} twice`);
    rows.set(id, cells);
  }
  return rows;
}

test('the specification states every goal with its promise, number and state', () => {
  const rows = specificationRows();
  for (const goal of ALL_GOALS) {
    assert.deepEqual(rows.get(goal.id), [goal.promise, goalText(goal), stateText(goal)], `docs/SPECIFICATION.md, row ${goal.id}`);
  }
});

test('the specification states no promise that goals.ts does not hold', () => {
  const ids = new Set(ALL_GOALS.map((goal) => goal.id));
  assert.deepEqual(
    [...specificationRows().keys()].filter((id) => !ids.has(id)),
    [],
  );
});

test('a goal is met on its bound and missed just beyond it', () => {
  assert.equal(meets(GOALS.shadowedWallTime, 1.1), true);
  assert.equal(meets(GOALS.shadowedWallTime, 1.3), false);
  assert.equal(meets(GOALS.digestThroughput, 0.4), true);
  assert.equal(meets(GOALS.digestThroughput, 0.39), false);
  assert.equal(meets(GOALS.serviceComputations, 100), true);
  assert.equal(meets(GOALS.serviceComputations, 99), false);
});
