// Holt's double exponential smoothing: a level and a trend. It scores a point by its one-step
// forecast error (in EW standard deviations of past errors) and extrapolates the trend to say
// when a threshold will be crossed, e.g. "memory exhausted in 40 epochs".

import { z } from 'zod';
import type { DetectorState, Forecaster } from '../detector.js';
import { deviationScore } from '../score.js';
import { finite, parseOptions, parseState } from '../state.js';
import { EwStats } from './ewma.js';

const NAME = 'holt';

const optionsSchema = z
  .object({
    /** Level smoothing. */
    alpha: z.number().gt(0).lt(1).default(0.3),
    /** Trend smoothing. */
    beta: z.number().gt(0).lt(1).default(0.05),
    /** Forgetting of the forecast-error statistics. */
    errorAlpha: z.number().gt(0).lt(1).default(0.02),
    threshold: z.number().positive().default(5),
    warmup: z.number().int().min(2).default(24),
  })
  .strict();

const stateSchema = z.object({
  level: finite,
  trend: finite,
  count: finite,
  errMean: finite,
  errVariance: finite,
  errCount: finite,
});

export class HoltForecaster implements Forecaster {
  readonly name = NAME;
  private readonly options: z.infer<typeof optionsSchema>;
  private readonly errors: EwStats;
  private level = 0;
  private trend = 0;
  private count = 0;

  constructor(options?: Record<string, unknown>) {
    this.options = parseOptions(NAME, options, optionsSchema);
    this.errors = new EwStats(this.options.errorAlpha);
  }

  update(value: number): number {
    if (this.count === 0) {
      this.level = value;
      this.count = 1;
      return 0;
    }
    if (this.count === 1) this.trend = value - this.level;
    const error = value - (this.level + this.trend);
    const e = this.errors;
    const score = this.count < this.options.warmup ? 0 : deviationScore((error - e.mean) / e.sigma(), this.options.threshold);
    e.add(error);
    const { alpha, beta } = this.options;
    const previousLevel = this.level;
    this.level = alpha * value + (1 - alpha) * (this.level + this.trend);
    this.trend = beta * (this.level - previousLevel) + (1 - beta) * this.trend;
    this.count++;
    return score;
  }

  forecast(steps: number): number {
    return this.level + steps * this.trend;
  }

  forecastCrossing(threshold: number): { epochs: number } | null {
    if (this.count === 0) return null;
    if (this.level >= threshold) return { epochs: 0 };
    if (this.trend <= 0) return null;
    return { epochs: Math.ceil((threshold - this.level) / this.trend) };
  }

  save(): DetectorState {
    const e = this.errors;
    return {
      detector: NAME,
      data: { level: this.level, trend: this.trend, count: this.count, errMean: e.mean, errVariance: e.variance, errCount: e.count },
    };
  }

  restore(state: DetectorState): void {
    const d = parseState(NAME, state, stateSchema);
    this.level = d.level;
    this.trend = d.trend;
    this.count = d.count;
    Object.assign(this.errors, { mean: d.errMean, variance: d.errVariance, count: d.errCount });
  }
}
