import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Detector } from '../detector.js';
import { createDetector } from '../registry.js';
import { gaussianNoise } from '../testing.js';
import { HoltForecaster } from './holt.js';

const BUILT_INS = ['robust-zscore', 'ewma', 'cusum', 'holt', 'novelty', 'regime', 'ensemble'] as const;
const ONSET = 1000;
const LENGTH = 1600;

/** Stationary noise with mean 10 and sigma 1, altered from ONSET on. */
function series(seed: number, alter: (x: number, sinceOnset: number) => number): number[] {
  return gaussianNoise(seed, LENGTH).map((n, i) => (i < ONSET ? 10 + n : alter(10 + n, i - ONSET)));
}

const changes: Record<string, { make: (seed: number) => number[]; maxDelay: number }> = {
  step: { make: (s) => series(s, (x) => x + 8), maxDelay: 10 },
  ramp: { make: (s) => series(s, (x, t) => x + 0.5 * t), maxDelay: 40 },
  spike: { make: (s) => series(s, (x, t) => (t === 0 ? x + 15 : x)), maxDelay: 0 },
  'variance change': { make: (s) => series(s, (x) => 10 + (x - 10) * 6), maxDelay: 40 },
};

/** Indices of the points scoring 0.5 or more. */
function alarms(detector: Detector, values: readonly number[]): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    const score = detector.update(v, i * 60_000);
    assert.ok(score >= 0 && score <= 1, `score ${score} out of [0,1]`);
    if (score >= 0.5) out.push(i);
  });
  return out;
}

// What each detector is built to catch. EWMA and Holt follow a steady ramp by design (Holt models
// the trend), so a ramp is not theirs to flag. Novelty is tuned for NAB's sparse alarms: it judges
// how rare the recent pattern is, so on pure Gaussian noise a rare run of values can fire it.
// Regime (and the ensemble, whose default member it is) is tuned the same way: it fires once at
// the start of a change and then learns, and a new all-time extreme in long noise is a confident
// novelty to it; its spike delay is checked separately below (the alarm lands one point late).
const catches: Record<(typeof BUILT_INS)[number], { changes: readonly string[]; quietOnNoise: boolean }> = {
  'robust-zscore': { changes: ['step', 'ramp', 'spike', 'variance change'], quietOnNoise: true },
  ewma: { changes: ['step', 'spike', 'variance change'], quietOnNoise: true },
  cusum: { changes: ['step', 'ramp', 'spike', 'variance change'], quietOnNoise: true },
  holt: { changes: ['step', 'spike', 'variance change'], quietOnNoise: true },
  novelty: { changes: ['step'], quietOnNoise: false },
  regime: { changes: ['step'], quietOnNoise: false },
  ensemble: { changes: ['step'], quietOnNoise: false },
};

for (const name of BUILT_INS) {
  for (const [change, { make, maxDelay }] of Object.entries(changes)) {
    if (!catches[name].changes.includes(change)) continue;
    test(`${name} flags a ${change} within ${maxDelay} points`, () => {
      for (const seed of [1, 2, 3]) {
        const found = alarms(createDetector(name), make(seed));
        assert.ok(found.some((i) => i >= ONSET && i <= ONSET + maxDelay), `seed ${seed}: alarms at ${found.slice(0, 5).join(',')}, change at ${ONSET}`);
        if (catches[name].quietOnNoise) assert.ok(found.every((i) => i >= ONSET), `seed ${seed}: alarm before the change at ${found[0]}`);
      }
    });
  }

  if (catches[name].quietOnNoise) test(`${name} stays below 0.5 on stationary noise`, () => {
    for (const seed of [4, 5, 6]) {
      const found = alarms(createDetector(name), gaussianNoise(seed, 5000).map((n) => 10 + n));
      assert.deepEqual(found, [], `seed ${seed}`);
    }
  });

  test(`${name} continues with identical scores after save/restore through JSON`, () => {
    const values = changes.step!.make(7);
    const original = createDetector(name);
    values.slice(0, 1005).forEach((v, i) => original.update(v, i));
    const copy = createDetector(name);
    copy.restore(JSON.parse(JSON.stringify(original.save())));
    values.slice(1005).forEach((v, i) => assert.equal(copy.update(v, 1005 + i), original.update(v, 1005 + i)));
  });
}

test('a state saved by one detector is refused by another, in one line', () => {
  const state = createDetector('ewma').save();
  assert.throws(() => createDetector('cusum').restore(state), (e: Error) => e.message.includes('"cusum"') && !e.message.includes('\n'));
});

test('holt forecasts when a linearly growing series crosses a threshold', () => {
  const holt = new HoltForecaster();
  for (let i = 0; i < 200; i++) holt.update(1000 + 5 * i);
  // last value 1995, growing 5 per step: 4000 is reached in 401 steps
  const crossing = holt.forecastCrossing(4000);
  assert.ok(crossing !== null && Math.abs(crossing.epochs - 401) <= 2, JSON.stringify(crossing));
  assert.deepEqual(holt.forecastCrossing(10), { epochs: 0 });
  const flat = new HoltForecaster();
  for (let i = 0; i < 200; i++) flat.update(1000);
  assert.equal(flat.forecastCrossing(4000), null);
});

for (const name of ['regime', 'ensemble']) {
  test(`${name} flags a spike within 1 point and a downward level shift within 10`, () => {
    for (const seed of [1, 2, 3]) {
      const spike = alarms(createDetector(name), changes.spike!.make(seed));
      assert.ok(spike.some((i) => i >= ONSET && i <= ONSET + 1), `seed ${seed}: spike alarms at ${spike.join(',')}`);
      const drop = alarms(createDetector(name), series(seed, (x) => x - 8));
      assert.ok(drop.some((i) => i >= ONSET && i <= ONSET + 10), `seed ${seed}: level-shift alarms at ${drop.join(',')}`);
    }
  });
}

test('regime reports one alarm per change, then learns the new level', () => {
  const found = alarms(createDetector('regime'), changes.step!.make(1));
  assert.deepEqual(found.filter((i) => i >= ONSET), [ONSET + 1]);
});

test('divergence: silent while replicas agree, a failure score from the first difference', () => {
  const detector = createDetector('divergence');
  for (let i = 0; i < 100; i++) assert.equal(detector.update(0), 0);
  const one = detector.update(1);
  const many = detector.update(5000);
  assert.ok(one >= 0.85 && one < many && many <= 1, `${one} ${many}`);
  detector.restore(JSON.parse(JSON.stringify(detector.save())));
  assert.equal(detector.update(1), one);
});
