// Leave-one-category-out: an honest estimate of how a detector's settings carry over to a kind of
// series they were not chosen on (the full NAB corpus has categories the development subset lacks).
// For each category: among the candidate settings, pick the one with the best standard score on
// the OTHER categories; per profile, take the threshold that is best on those other categories;
// then score the held-out category alone at that threshold.

import type { CostProfile, ProfileName } from './profiles.js';
import { PROFILE_NAMES } from './profiles.js';
import { type LabelledSeries, scoreCorpus, scoreFile } from './scorer.js';

export interface ScoredFile {
  readonly series: LabelledSeries & { readonly category: string };
  readonly scores: ArrayLike<number>;
}

/** One candidate setting's scores over the whole corpus. */
export interface Candidate {
  readonly label: string;
  readonly files: readonly ScoredFile[];
}

export interface HeldOutScore {
  /** Normalised score of the held-out category; null when it has no window (nothing to normalise). */
  readonly normalised: number | null;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

export interface HeldOutResult {
  readonly category: string;
  /** Label of the candidate chosen on the other categories. */
  readonly chosen: string;
  readonly scores: Readonly<Record<ProfileName, HeldOutScore>>;
}

/** Scores files at a fixed threshold, normalised like NAB (silent 0, perfect 100). */
export function scoreAtThreshold(files: readonly ScoredFile[], threshold: number, profile: CostProfile): HeldOutScore {
  let raw = 0;
  let windows = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const { series, scores } of files) {
    const outcome = scoreFile(series, scores, threshold, profile);
    raw += outcome.score;
    tp += outcome.tp;
    fp += outcome.fp;
    fn += outcome.fn;
    windows += series.windows.length;
  }
  const silent = -profile.fnWeight * windows;
  const perfect = profile.tpWeight * windows;
  return { normalised: windows === 0 ? null : (100 * (raw - silent)) / (perfect - silent), tp, fp, fn };
}

export function leaveOneCategoryOut(
  candidates: readonly Candidate[],
  profiles: Readonly<Record<ProfileName, CostProfile>>,
): HeldOutResult[] {
  const categories = [...new Set(candidates.flatMap((c) => c.files.map((f) => f.series.category)))];
  return categories.map((category) => {
    const others = (c: Candidate) => c.files.filter((f) => f.series.category !== category);
    let best = candidates[0]!;
    let bestScore = -Infinity;
    for (const candidate of candidates) {
      const score = scoreCorpus(others(candidate), profiles.standard).normalised;
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    const heldOut = best.files.filter((f) => f.series.category === category);
    const scores = Object.fromEntries(
      PROFILE_NAMES.map((p) => [p, scoreAtThreshold(heldOut, scoreCorpus(others(best), profiles[p]).threshold, profiles[p])]),
    ) as Record<ProfileName, HeldOutScore>;
    return { category, chosen: best.label, scores };
  });
}
