// Robust windowed z-score: distance of a point from the median of the last `window` points, in
// units of their MAD. Median and MAD ignore the outliers they are meant to find.

import { z } from 'zod';
import type { Detector, DetectorState } from '../detector.js';
import { deviationScore } from '../score.js';
import { finiteArray, parseOptions, parseState } from '../state.js';
import { SortedWindow } from './sorted-window.js';

const NAME = 'robust-zscore';
/** MAD of a normal distribution is 0.6745 sigma; this rescales it to sigma. */
const MAD_TO_SIGMA = 1.4826;

const optionsSchema = z
  .object({
    window: z.number().int().min(8).max(100_000).default(128),
    /** Deviation (in sigmas) that scores 0.5. */
    threshold: z.number().positive().default(6),
    /** Points needed before scoring anything above 0. */
    warmup: z.number().int().min(3).default(24),
    /**
     * Smallest scale, as a fraction of the median's magnitude: for counts whose benign spread
     * grows with their level, so a few tight early points do not make a routine move look huge.
     */
    relativeScale: z.number().min(0).default(0),
  })
  .strict();

export class RobustZScoreDetector implements Detector {
  readonly name = NAME;
  private readonly options: z.infer<typeof optionsSchema>;
  private readonly window: SortedWindow;

  constructor(options?: Record<string, unknown>) {
    this.options = parseOptions(NAME, options, optionsSchema);
    this.window = new SortedWindow(this.options.window);
  }

  /** Deviation of `value` in sigmas against the window as it is (before adding the value). */
  deviation(value: number): number {
    if (this.window.size < Math.min(this.options.warmup, this.options.window)) return 0;
    const median = this.window.median();
    // A window that is mostly one value has MAD 0; the mean absolute deviation still measures
    // the rare moves, and only a perfectly flat window falls back to a tiny scale.
    const mad = this.window.mad(median);
    const measured =
      mad > 0 ? MAD_TO_SIGMA * mad : Math.max(this.window.meanAbsoluteDeviation(median), 1e-9 * Math.max(1, Math.abs(median)));
    return (value - median) / Math.max(measured, this.options.relativeScale * Math.abs(median));
  }

  update(value: number): number {
    const score = deviationScore(this.deviation(value), this.options.threshold);
    this.window.push(value);
    return score;
  }

  save(): DetectorState {
    return { detector: NAME, data: { window: this.window.toArray() } };
  }

  restore(state: DetectorState): void {
    const data = parseState(NAME, state, z.object({ window: finiteArray }));
    this.window.fill(data.window);
  }
}
