import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gaussianNoise } from '../testing.js';
import { SeasonalDifference, SeasonalExcursion } from './seasonal.js';

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
  assert.equal(none.period, 0);
  assert.equal(milli.period, 0);
});

test('hourly data: 0 on a repeating day, the missing peak on an odd day, and no echo the day after', () => {
  const s = new SeasonalDifference();
  const out: (number | undefined)[] = [];
  for (let i = 0; i < 24 * 10; i++) out.push(s.update(pattern(i, 6), START + i * HOUR));
  assert.equal(s.period, 24);
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
  for (let i = 100; i < 300; i++)
    assert.equal(copy.update(pattern(i) + (i % 5), START + i * HOUR), original.update(pattern(i) + (i % 5), START + i * HOUR));
});

test('it explains a noisy daily pattern, not noise with a regular step, nor a flat line', () => {
  const daily = new SeasonalDifference();
  const noise = new SeasonalDifference();
  const flat = new SeasonalDifference();
  gaussianNoise(9, 24 * 20).forEach((n, i) => {
    daily.update(pattern(i) + n, START + i * HOUR);
    noise.update(10 + n, START + i * HOUR);
    flat.update(10, START + i * HOUR);
  });
  assert.equal(daily.explaining, true);
  assert.equal(noise.explaining, false);
  assert.equal(flat.explaining, false);
});

test('a weekly cycle: hourly data has 168 points per week, 1-minute data is beyond its memory bound', () => {
  const hourly = new SeasonalDifference(7);
  const minutely = new SeasonalDifference(7);
  for (let i = 0; i < 10; i++) {
    hourly.update(pattern(i), START + i * HOUR);
    minutely.update(pattern(i), START + i * 60_000);
  }
  assert.equal(hourly.period, 168);
  assert.equal(minutely.period, 0);
});

test('a deviation that builds over several points is measured against the range from before it', () => {
  // From 06:00 on day 10 the value sinks 0.5 a point further below its usual level, for 8 points.
  // Judged against a range that already holds its own first points, it stays near 0.5 widths.
  for (const seed of [10, 11, 12]) {
    const excursion = new SeasonalExcursion(1, 10_000);
    let largest = 0;
    gaussianNoise(seed, 24 * 12).forEach((n, i) => {
      const sinking = i >= 24 * 10 + 6 && i < 24 * 10 + 14 ? 0.5 * (i - (24 * 10 + 5)) : 0;
      const e = excursion.update(pattern(i) + 0.3 * n - sinking, START + i * HOUR);
      if (i >= 24 * 10) largest = Math.max(largest, e);
    });
    assert.ok(largest >= 1, `seed ${seed}: largest excursion ${largest}`);
  }
});

test('a seasonal excursion continues identically after save/restore through JSON', () => {
  const original = new SeasonalExcursion(7, 10_000);
  const values = gaussianNoise(11, 24 * 7 * 5).map((n, i) => pattern(i) + (Math.floor(i / 24) % 7 >= 5 ? -5 : 0) + n);
  for (const [i, v] of values.slice(0, 24 * 25).entries()) original.update(v, START + i * HOUR);
  const copy = new SeasonalExcursion(7, 10_000);
  copy.restore(JSON.parse(JSON.stringify(original.save())));
  values.slice(24 * 25).forEach((v, j) => {
    const t = START + (24 * 25 + j) * HOUR;
    assert.equal(copy.update(v, t), original.update(v, t));
  });
});
