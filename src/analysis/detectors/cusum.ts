// Two-sided CUSUM on the standardised series: accumulates small persistent shifts that a
// point-wise test misses. After an alarm the sums and the baseline restart, so a step fires once
// and the new level becomes normal.

import { z } from 'zod';
import type { Detector, DetectorState } from '../detector.js';
import { deviationScore } from '../score.js';
import { finite, parseOptions, parseState } from '../state.js';
import { EwStats } from './ewma.js';

const NAME = 'cusum';

const optionsSchema = z
  .object({
    /** Baseline forgetting; slow, so a shift is measured against the old level. */
    alpha: z.number().gt(0).lt(1).default(0.005),
    /** Slack per point, in sigmas: shifts smaller than this never accumulate. */
    slack: z.number().nonnegative().default(0.5),
    /** Accumulated sigmas at which the score is 0.5 and the detector re-baselines. */
    threshold: z.number().positive().default(10),
    warmup: z.number().int().min(2).default(32),
  })
  .strict();

const stateSchema = z.object({ mean: finite, variance: finite, count: finite, high: finite, low: finite });

export class CusumDetector implements Detector {
  readonly name = NAME;
  private readonly options: z.infer<typeof optionsSchema>;
  private readonly baseline: EwStats;
  private high = 0;
  private low = 0;

  constructor(options?: Record<string, unknown>) {
    this.options = parseOptions(NAME, options, optionsSchema);
    this.baseline = new EwStats(this.options.alpha);
  }

  update(value: number): number {
    const b = this.baseline;
    if (b.count < this.options.warmup) {
      b.add(value);
      return 0;
    }
    const zValue = (value - b.mean) / b.sigma();
    const k = this.options.slack;
    this.high = Math.max(0, this.high + zValue - k);
    this.low = Math.max(0, this.low - zValue - k);
    const sum = Math.max(this.high, this.low);
    const score = deviationScore(sum, this.options.threshold);
    if (sum > this.options.threshold) {
      this.high = 0;
      this.low = 0;
      b.count = 0; // relearn the baseline from the new regime
    }
    b.add(value);
    return score;
  }

  save(): DetectorState {
    const b = this.baseline;
    return { detector: NAME, data: { mean: b.mean, variance: b.variance, count: b.count, high: this.high, low: this.low } };
  }

  restore(state: DetectorState): void {
    const { mean, variance, count, high, low } = parseState(NAME, state, stateSchema);
    Object.assign(this.baseline, { mean, variance, count });
    this.high = high;
    this.low = low;
  }
}
