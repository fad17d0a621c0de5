import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NAB_PROFILES } from './profiles.js';
import { type LabelledSeries, probationaryRows, scaledSigmoid, scoreCorpus, scoreFile } from './scorer.js';

const standard = NAB_PROFILES.standard;
// 1000 rows: probation is rows 0..149; windows at 300..399 and 700..799.
const series: LabelledSeries = {
  name: 'a.csv',
  rowCount: 1000,
  windows: [
    [300, 399],
    [700, 799],
  ],
};

function scores(detections: readonly number[]): Float64Array {
  const s = new Float64Array(series.rowCount);
  for (const d of detections) s[d] = 1;
  return s;
}

test('probation is 15% of rows, at most 750', () => {
  assert.equal(probationaryRows(1000), 150);
  assert.equal(probationaryRows(22695), 750);
});

test('the scaled sigmoid is -1 far past a window and about 1 at its start', () => {
  assert.equal(scaledSigmoid(4), -1);
  assert.ok(Math.abs(scaledSigmoid(-1) - 0.9866) < 1e-4);
  assert.equal(scaledSigmoid(0), 0);
});

test('a perfect detector scores 100 and a silent one 0', () => {
  const perfect = scoreCorpus([{ series, scores: scores([300, 700]) }], standard);
  assert.ok(Math.abs(perfect.normalised - 100) < 1e-9);
  const silent = scoreCorpus([{ series, scores: new Float64Array(1000) }], standard);
  assert.equal(silent.normalised, 0);
});

test('detecting at the start of a window beats detecting at its end', () => {
  const early = scoreFile(series, scores([300]), 0.5, standard).score;
  const late = scoreFile(series, scores([399]), 0.5, standard).score;
  assert.ok(Math.abs(early - (1 - 1)) < 1e-9, 'TP worth 1, one window missed');
  assert.ok(late < early && late > -1);
});

test('only the earliest detection in a window counts, and only once', () => {
  const once = scoreFile(series, scores([310]), 0.5, standard);
  const many = scoreFile(series, scores([310, 320, 330]), 0.5, standard);
  assert.equal(many.score, once.score);
  assert.equal(many.tp, 1);
});

test('a false positive before any window costs the full fpWeight; probation is free', () => {
  const fp = scoreFile(series, scores([200]), 0.5, standard);
  assert.ok(Math.abs(fp.score - (-2 - standard.fpWeight)) < 1e-12);
  const probation = scoreFile(series, scores([100]), 0.5, standard);
  assert.equal(probation.score, -2);
});

test('a false positive just after a window costs less than one far after it', () => {
  const near = scoreFile(series, scores([402]), 0.5, standard).score;
  const far = scoreFile(series, scores([650]), 0.5, standard).score;
  assert.ok(near > far && far >= -2 - standard.fpWeight - 1e-12);
});

test('the sweep picks the threshold that excludes costly low scores', () => {
  const s = scores([300, 700]);
  s[200] = 0.5; // a false positive with a lower score than both true positives
  const result = scoreCorpus([{ series, scores: s }], standard);
  assert.equal(result.threshold, 1);
  assert.equal(result.fp, 0);
  assert.ok(Math.abs(result.normalised - 100) < 1e-9);
});
