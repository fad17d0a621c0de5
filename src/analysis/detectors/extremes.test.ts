import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Extremes } from './extremes.js';

test('excursion is 0 for the first point and inside the range, else the distance in range widths', () => {
  const e = new Extremes();
  assert.equal(e.excursion(5), 0);
  e.include(10);
  e.include(20);
  assert.equal(e.excursion(15), 0);
  assert.equal(e.excursion(25), 0.5);
  assert.equal(e.excursion(0), 1);
});

test('a flat range measures excursions against its level', () => {
  const e = new Extremes();
  e.include(4);
  assert.equal(e.excursion(9), 1); // |4| + 1 = 5 wide
});

test('a windowed range forgets an old extreme after about its span, the all-time one never', () => {
  const windowed = new Extremes(800);
  const allTime = new Extremes();
  for (const e of [windowed, allTime]) {
    e.include(100); // an early spike
    for (let i = 1; i < 1000; i++) e.include(i % 2);
  }
  assert.deepEqual([windowed.low, windowed.high], [0, 1]);
  assert.deepEqual([allTime.low, allTime.high], [0, 100]);
  assert.equal(windowed.excursion(2), 1);
  assert.equal(allTime.excursion(2), 0);
});

test('a state round-trips through JSON', () => {
  const original = new Extremes(100);
  for (let i = 0; i < 250; i++) original.include(Math.sin(i) * i);
  const copy = new Extremes(100);
  copy.restore(JSON.parse(JSON.stringify(original.save())));
  for (let i = 250; i < 400; i++) {
    assert.equal(copy.excursion(i), original.excursion(i));
    copy.include(Math.cos(i) * i);
    original.include(Math.cos(i) * i);
  }
});
