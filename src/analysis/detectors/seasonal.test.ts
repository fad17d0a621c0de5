import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeasonalDifference } from './seasonal.js';

const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);
/** A daily pattern with a peak of 20 from 10:00 to 14:00, except on `missingDay`. */
const pattern = (i: number, missingDay = -1): number => (i % 24 >= 10 && i % 24 <= 14 && Math.floor(i / 24) !== missingDay ? 30 : 10);

test('without timestamps, or with steps that give no daily period, it stays off', () => {
  const none = new SeasonalDifference();
  const milli = new SeasonalDifference();
  for (let i = 0; i < 500; i++) {
    assert.equal(none.update(pattern(i), undefined), undefined);
    assert.equal(milli.update(pattern(i), i), undefined);
  }
  assert.equal(none.pointsPerDay, 0);
  assert.equal(milli.pointsPerDay, 0);
});

test('hourly data: 0 on a repeating day, the missing peak on an odd day, and no echo the day after', () => {
  const s = new SeasonalDifference();
  const out: (number | undefined)[] = [];
  for (let i = 0; i < 24 * 10; i++) out.push(s.update(pattern(i, 6), START + i * HOUR));
  assert.equal(s.pointsPerDay, 24);
  assert.equal(out[24 * 3], undefined); // three days are needed first
  assert.deepEqual(out.slice(24 * 4, 24 * 6), new Array(48).fill(0));
  assert.deepEqual(out.slice(24 * 6 + 10, 24 * 6 + 15), [-20, -20, -20, -20, -20]);
  assert.deepEqual(out.slice(24 * 7, 24 * 10), new Array(72).fill(0));
});

test('a saved state continues with identical differences', () => {
  const original = new SeasonalDifference();
  for (let i = 0; i < 100; i++) original.update(pattern(i) + (i % 7), START + i * HOUR);
  const copy = new SeasonalDifference();
  copy.restore(JSON.parse(JSON.stringify(original.save())));
  for (let i = 100; i < 300; i++) assert.equal(copy.update(pattern(i) + (i % 5), START + i * HOUR), original.update(pattern(i) + (i % 5), START + i * HOUR));
});
