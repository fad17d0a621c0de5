// Exponentially weighted mean and variance: the cheapest adaptive baseline. A point scores by its
// distance from the mean in EW standard deviations, measured before the point moves the baseline.

import { z } from 'zod';
import type { Detector, DetectorState } from '../detector.js';
import { deviationScore } from '../score.js';
import { finite, parseOptions, parseState } from '../state.js';

const NAME = 'ewma';

const optionsSchema = z
  .object({
    /** Weight of the newest point; 2/(alpha) - 1 is roughly the memory in points. */
    alpha: z.number().gt(0).lt(1).default(0.02),
    threshold: z.number().positive().default(5),
    warmup: z.number().int().min(2).default(24),
  })
  .strict();

const stateSchema = z.object({ mean: finite, variance: finite, count: finite });

/** Mean and variance with exponential forgetting (West's incremental form). */
export class EwStats {
  mean = 0;
  variance = 0;
  count = 0;

  constructor(private readonly alpha: number) {}

  add(value: number): void {
    if (this.count === 0) {
      this.mean = value;
      this.variance = 0;
    } else {
      // Early points weigh 1/count so the start is an ordinary average, not a biased EWMA.
      const a = Math.max(this.alpha, 1 / (this.count + 1));
      const diff = value - this.mean;
      this.mean += a * diff;
      this.variance = (1 - a) * (this.variance + a * diff * diff);
    }
    this.count++;
  }

  /** Standard deviation, floored so a flat series does not divide by zero. */
  sigma(): number {
    return Math.max(Math.sqrt(this.variance), 1e-9 * Math.max(1, Math.abs(this.mean)));
  }
}

export class EwmaDetector implements Detector {
  readonly name = NAME;
  private readonly options: z.infer<typeof optionsSchema>;
  private readonly stats: EwStats;

  constructor(options?: Record<string, unknown>) {
    this.options = parseOptions(NAME, options, optionsSchema);
    this.stats = new EwStats(this.options.alpha);
  }

  update(value: number): number {
    const s = this.stats;
    const score = s.count < this.options.warmup ? 0 : deviationScore((value - s.mean) / s.sigma(), this.options.threshold);
    s.add(value);
    return score;
  }

  save(): DetectorState {
    const s = this.stats;
    return { detector: NAME, data: { mean: s.mean, variance: s.variance, count: s.count } };
  }

  restore(state: DetectorState): void {
    const data = parseState(NAME, state, stateSchema);
    Object.assign(this.stats, data);
  }
}
