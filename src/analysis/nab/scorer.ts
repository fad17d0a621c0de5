// NAB scoring, written from the published rules:
// - the first 15% of each file's rows (at most 750) are probationary and never scored;
// - a row inside a window is worth the scaled sigmoid of its relative position (-1 at the
//   window's first row, reaching 0 just after its last), normalised so the first row earns
//   tpWeight; a window's worth is that of its earliest detection, and a missed window costs fnWeight;
// - a detection outside any window costs fpWeight times the scaled sigmoid of its distance past the
//   previous window (relative to that window's width), and the full fpWeight before any window;
// - one threshold per profile is swept over the whole corpus; the best raw total is normalised so
//   that never firing scores 0 and detecting every window at its first row scores 100.

import type { CostProfile } from './profiles.js';

/** One file's rows and windows, windows given as inclusive row index ranges. */
export interface LabelledSeries {
  readonly name: string;
  readonly rowCount: number;
  readonly windows: readonly (readonly [number, number])[];
}

/** Scaled sigmoid: +0.987 deep before a window's end, 0 at its end, -1 well past it. */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3) return -1;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

export function probationaryRows(rowCount: number): number {
  return Math.min(Math.floor(0.15 * rowCount), 750);
}

/**
 * Per row: the window it belongs to (-1 outside) and its unweighted worth (TP share if inside,
 * FP sigmoid if outside). Probationary rows get window -2: never counted.
 */
export interface RowWeights {
  readonly window: Int32Array;
  readonly worth: Float64Array;
}

export function rowWeights(series: LabelledSeries): RowWeights {
  const n = series.rowCount;
  const window = new Int32Array(n).fill(-1);
  const worth = new Float64Array(n);
  const probation = probationaryRows(n);
  let w = 0;
  let previousEnd = -1;
  let previousWidth = 0;
  for (let i = 0; i < n; i++) {
    const current = series.windows[w];
    if (current !== undefined && i >= current[0] && i <= current[1]) {
      const width = current[1] - current[0] + 1;
      window[i] = w;
      worth[i] = scaledSigmoid(-(current[1] - i + 1) / width) / MAX_TP;
      if (i === current[1]) {
        previousEnd = i;
        previousWidth = width;
        w++;
      }
    } else {
      // Past-window distance relative to the window's width; a one-row window counts as width 2
      // here only to avoid dividing by zero.
      worth[i] = previousEnd < 0 ? -1 : scaledSigmoid((i - previousEnd) / Math.max(previousWidth - 1, 1));
    }
    if (i < probation) window[i] = -2;
  }
  return { window, worth };
}

export interface FileOutcome {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly score: number;
}

/** Raw score of one file at one threshold (detection = score >= threshold). */
export function scoreFile(series: LabelledSeries, scores: ArrayLike<number>, threshold: number, profile: CostProfile): FileOutcome {
  const { window, worth } = rowWeights(series);
  const best = new Float64Array(series.windows.length).fill(Number.NaN);
  let fp = 0;
  let fpCost = 0;
  for (let i = 0; i < series.rowCount; i++) {
    const w = window[i]!;
    if (w === -2 || (scores[i] ?? 0) < threshold) continue;
    if (w === -1) {
      fp++;
      fpCost += worth[i]! * profile.fpWeight;
    } else if (Number.isNaN(best[w]!)) {
      best[w] = worth[i]!;
    }
  }
  let tp = 0;
  let fn = 0;
  let score = fpCost;
  for (const b of best) {
    if (Number.isNaN(b)) {
      fn++;
      score -= profile.fnWeight;
    } else {
      tp++;
      score += b * profile.tpWeight;
    }
  }
  return { tp, fp, fn, score };
}

export interface CorpusResult {
  readonly threshold: number;
  readonly raw: number;
  readonly normalised: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

/**
 * Sweeps every distinct score as a threshold over the whole corpus and returns the best.
 * Visiting points from the highest score down, each point either adds its FP cost or may raise
 * its window's worth (earliest detection = highest worth), so the sweep is one sort plus O(points).
 */
export function scoreCorpus(files: readonly { series: LabelledSeries; scores: ArrayLike<number> }[], profile: CostProfile): CorpusResult {
  const values: number[] = [];
  const worths: number[] = [];
  const windowIds: number[] = [];
  let windowCount = 0;
  for (const { series, scores } of files) {
    const { window, worth } = rowWeights(series);
    for (let i = 0; i < series.rowCount; i++) {
      const w = window[i]!;
      if (w === -2) continue;
      values.push(scores[i] ?? 0);
      worths.push(w === -1 ? worth[i]! * profile.fpWeight : worth[i]! * profile.tpWeight);
      windowIds.push(w === -1 ? -1 : windowCount + w);
    }
    windowCount += series.windows.length;
  }
  const order = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]!);
  const nullScore = -profile.fnWeight * windowCount;
  const windowWorth = new Float64Array(windowCount).fill(-profile.fnWeight);
  const detected = new Uint8Array(windowCount);
  let raw = nullScore;
  let best: CorpusResult = { threshold: Infinity, raw, normalised: 0, tp: 0, fp: 0, fn: windowCount };
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const w = windowIds[i]!;
    if (w === -1) {
      raw += worths[i]!;
      fp++;
    } else {
      const previous = windowWorth[w]!;
      const next = detected[w] === 0 ? worths[i]! : Math.max(previous, worths[i]!);
      if (detected[w] === 0) tp++;
      detected[w] = 1;
      raw += next - previous;
      windowWorth[w] = next;
    }
    const threshold = values[i]!;
    const nextValue = k + 1 < order.length ? values[order[k + 1]!]! : -Infinity;
    if (nextValue === threshold) continue; // a threshold admits every point with an equal score
    if (raw > best.raw) best = { threshold, raw, normalised: 0, tp, fp, fn: windowCount - tp };
  }
  const perfect = profile.tpWeight * windowCount;
  const span = perfect - nullScore;
  return { ...best, normalised: span === 0 ? 0 : (100 * (best.raw - nullScore)) / span };
}
