// Daily seasonality without a model: the difference between a value and the median of the values
// at the same time of day on the last DAYS days. For a daily-seasonal series it stays near 0
// whatever the day's shape, so a missing daily peak or an unusual night stands out; the median
// keeps one anomalous day from echoing into the next ones. The period comes from the first step
// between timestamps; without timestamps, or with a step that gives no usable daily period, it
// stays off.

import { z } from 'zod';
import { RingBuffer } from '../ring.js';
import { finite, finiteArray } from '../state.js';

const DAY_MS = 86_400_000;
const DAYS = 3;
/** Periods (points per day) it handles: 4 (6-hour steps) to 1440 (1-minute steps); memory is 3 days. */
const MIN_PERIOD = 4;
const MAX_PERIOD = 1440;

export const seasonalStateSchema = z.object({ firstMs: finite.nullable(), period: finite, values: finiteArray });

export class SeasonalDifference {
  /** Points per day; 0 while unknown or unusable. */
  private period = 0;
  private firstMs: number | null = null;
  private decided = false;
  private values = new RingBuffer(1);

  get pointsPerDay(): number {
    return this.period;
  }

  /** The value minus the median at the same phase of the last days; undefined until known. */
  update(value: number, timestampMs: number | undefined): number | undefined {
    if (!this.decided) this.decide(timestampMs);
    if (this.period === 0) return undefined;
    const v = this.values;
    let difference: number | undefined;
    if (v.full) {
      const a = v.at(v.size - this.period);
      const b = v.at(v.size - 2 * this.period);
      const c = v.at(0);
      difference = value - Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }
    v.push(value);
    return difference;
  }

  private decide(timestampMs: number | undefined): void {
    if (timestampMs === undefined) {
      this.decided = true;
      return;
    }
    if (this.firstMs === null) {
      this.firstMs = timestampMs;
      return;
    }
    this.decided = true;
    const step = timestampMs - this.firstMs;
    const period = step > 0 ? Math.round(DAY_MS / step) : 0;
    if (period >= MIN_PERIOD && period <= MAX_PERIOD) this.setPeriod(period);
  }

  private setPeriod(period: number): void {
    this.period = period;
    this.values = new RingBuffer(DAYS * period);
  }

  save(): z.infer<typeof seasonalStateSchema> {
    return { firstMs: this.firstMs, period: this.decided ? this.period : -1, values: this.values.toArray() };
  }

  restore(state: z.infer<typeof seasonalStateSchema>): void {
    this.firstMs = state.firstMs;
    this.decided = state.period >= 0;
    this.period = 0;
    this.values = new RingBuffer(1);
    if (state.period > 0) this.setPeriod(state.period);
    this.values.fill(state.values);
  }
}
