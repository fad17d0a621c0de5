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
// Regime (and the ensemble, whose default member it is) is tuned the same way, and a new all-time
// extreme well beyond the range of long noise is a confident anomaly to it.
const catches: Record<(typeof BUILT_INS)[number], { changes: readonly string[]; quietOnNoise: boolean }> = {
  'robust-zscore': { changes: ['step', 'ramp', 'spike', 'variance change'], quietOnNoise: true },
  ewma: { changes: ['step', 'spike', 'variance change'], quietOnNoise: true },
  cusum: { changes: ['step', 'ramp', 'spike', 'variance change'], quietOnNoise: true },
  holt: { changes: ['step', 'spike', 'variance change'], quietOnNoise: true },
  novelty: { changes: ['step'], quietOnNoise: false },
  regime: { changes: ['step', 'ramp', 'spike', 'variance change'], quietOnNoise: false },
  ensemble: { changes: ['step', 'ramp', 'spike', 'variance change'], quietOnNoise: false },
};

for (const name of BUILT_INS) {
  for (const [change, { make, maxDelay }] of Object.entries(changes)) {
    if (!catches[name].changes.includes(change)) continue;
    test(`${name} flags a ${change} within ${maxDelay} points`, () => {
      for (const seed of [1, 2, 3]) {
        const found = alarms(createDetector(name), make(seed));
        assert.ok(
          found.some((i) => i >= ONSET && i <= ONSET + maxDelay),
          `seed ${seed}: alarms at ${found.slice(0, 5).join(',')}, change at ${ONSET}`,
        );
        if (catches[name].quietOnNoise)
          assert.ok(
            found.every((i) => i >= ONSET),
            `seed ${seed}: alarm before the change at ${found[0]}`,
          );
      }
    });
  }

  if (catches[name].quietOnNoise)
    test(`${name} stays below 0.5 on stationary noise`, () => {
      for (const seed of [4, 5, 6]) {
        const found = alarms(
          createDetector(name),
          gaussianNoise(seed, 5000).map((n) => 10 + n),
        );
        assert.deepEqual(found, [], `seed ${seed}`);
      }
    });

  test(`${name} continues with identical scores after save/restore through JSON`, () => {
    const values = changes.step!.make(7);
    const original = createDetector(name);
    for (const [i, v] of values.slice(0, 1005).entries()) original.update(v, i);
    const copy = createDetector(name);
    copy.restore(JSON.parse(JSON.stringify(original.save())));
    for (const [i, v] of values.slice(1005).entries()) assert.equal(copy.update(v, 1005 + i), original.update(v, 1005 + i));
  });
}

test('a state saved by one detector is refused by another, in one line', () => {
  const state = createDetector('ewma').save();
  assert.throws(
    () => createDetector('cusum').restore(state),
    (e: Error) => e.message.includes('"cusum"') && !e.message.includes('\n'),
  );
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
      assert.ok(
        spike.some((i) => i >= ONSET && i <= ONSET + 1),
        `seed ${seed}: spike alarms at ${spike.join(',')}`,
      );
      const drop = alarms(
        createDetector(name),
        series(seed, (x) => x - 8),
      );
      assert.ok(
        drop.some((i) => i >= ONSET && i <= ONSET + 10),
        `seed ${seed}: level-shift alarms at ${drop.join(',')}`,
      );
    }
  });
}

/** Indices of the points scoring above 0 (regime's firings, however weak). */
function firings(detector: Detector, values: readonly number[]): number[] {
  return values.flatMap((v, i) => (detector.update(v, i * 60_000) > 0 ? [i] : []));
}

test('regime flags a step at its first point, then learns the new level within 20 points', () => {
  for (const seed of [1, 2, 3]) {
    const found = alarms(createDetector('regime'), changes.step!.make(seed)).filter((i) => i >= ONSET);
    assert.equal(found[0], ONSET, `seed ${seed}: ${found.join(',')}`);
    assert.ok(
      found.every((i) => i <= ONSET + 20),
      `seed ${seed}: alarms long after the step: ${found.join(',')}`,
    );
  }
});

test('regime raises at most 2 alarms in 5000 points of stationary noise (its rare new extremes)', () => {
  for (const seed of [4, 5, 6]) {
    const found = alarms(
      createDetector('regime'),
      gaussianNoise(seed, 5000).map((n) => 10 + n),
    );
    assert.ok(found.length <= 2, `seed ${seed}: alarms at ${found.join(',')}`);
  }
});

test('regime continues with identical scores after save/restore on hourly, daily-seasonal data', () => {
  const hour = 3_600_000;
  const values = gaussianNoise(8, 24 * 20).map((n, i) => 10 + (i % 24 >= 10 && i % 24 <= 14 ? 20 : 0) + n + (i === 24 * 15 + 3 ? 12 : 0));
  const original = createDetector('regime');
  for (const [i, v] of values.slice(0, 24 * 8).entries()) original.update(v, i * hour);
  const copy = createDetector('regime');
  copy.restore(JSON.parse(JSON.stringify(original.save())));
  values.slice(24 * 8).forEach((v, j) => {
    const i = 24 * 8 + j;
    assert.equal(copy.update(v, i * hour), original.update(v, i * hour));
  });
});

test('regime: a breakout fires even while a previous alarm suppresses the detector', () => {
  for (const seed of [1, 2, 3]) {
    // a spike, then 50 points later (inside the suppression span) a larger one
    const values = gaussianNoise(seed, LENGTH).map((n, i) => 10 + n + (i === ONSET ? 15 : 0) + (i === ONSET + 50 ? 40 : 0));
    const found = alarms(createDetector('regime'), values);
    assert.ok(found.includes(ONSET) && found.includes(ONSET + 50), `seed ${seed}: alarms at ${found.join(',')}`);
  }
});

test('regime: a plateau that starts while an alarm suppresses the detector fires once or twice, not at each new extreme of its average', () => {
  for (const seed of [1, 2, 3]) {
    // a spike, then 30 points later a +6 sigma plateau of 40 points: every plateau point until the
    // 20-point average is full pushes that average to a new extreme
    const values = gaussianNoise(seed, LENGTH).map((n, i) => 10 + n + (i === ONSET ? 15 : 0) + (i >= ONSET + 30 && i < ONSET + 70 ? 6 : 0));
    const found = firings(createDetector('regime'), values).filter((i) => i >= ONSET + 30 && i < ONSET + 150);
    assert.ok(found.length >= 1 && found.length <= 2 && found[0]! <= ONSET + 36, `seed ${seed}: firings at ${found.join(',')}`);
  }
});

test('regime: on a weekly-seasonal series, a weekday shaped like a Sunday fires on its missing morning peak', () => {
  const hour = 3_600_000;
  const weekday = (h: number): number => 10 + 12 * Math.exp(-((h - 8) ** 2) / 3) + 10 * Math.exp(-((h - 18) ** 2) / 4);
  const sunday = (h: number): number => 10 + 8 * Math.exp(-((h - 14) ** 2) / 20);
  const holiday = 7 * 6 + 3; // the Thursday of week 7 (day 0 is a Monday): weekends alone are normal
  for (const seed of [1, 2, 3]) {
    const detector = createDetector('regime');
    let strongest = { day: -1, hour: -1, score: 0 };
    gaussianNoise(seed, 24 * 7 * 8).forEach((n, i) => {
      const day = Math.floor(i / 24);
      const h = i % 24;
      const score = detector.update(
        (day % 7 >= 5 || day === holiday ? sunday(h) : weekday(h)) * (1 + 0.05 * n),
        Date.UTC(2024, 0, 1) + i * hour,
      );
      if (day >= 28 && score > strongest.score) strongest = { day, hour: h, score };
    });
    assert.ok(
      strongest.day === holiday && strongest.hour >= 5 && strongest.hour <= 9 && strongest.score >= 0.3,
      `seed ${seed}: ${JSON.stringify(strongest)}`,
    );
  }
});

test('regime: a level shift inside a range widened by an old spike fires within 10 points', () => {
  for (const seed of [1, 2, 3]) {
    // the spike at 300 stretches the range far above the later +4 sigma shift
    const values = gaussianNoise(seed, LENGTH).map((n, i) => 10 + n + (i === 300 ? 30 : 0) + (i >= ONSET ? 4 : 0));
    const found = firings(createDetector('regime'), values).filter((i) => i >= ONSET - 100);
    assert.ok(found.length > 0 && found[0]! >= ONSET && found[0]! <= ONSET + 10, `seed ${seed}: firings at ${found.join(',')}`);
  }
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
