// Seasonality without a model: the difference between a value and the median of the values at
// the same phase of the last CYCLES cycles (a day, or a week for series whose weekdays differ).
// For a seasonal series it stays near 0 whatever the cycle's shape, so a missing daily peak or a
// weekday that looks like a Sunday stands out; the median keeps one anomalous cycle from echoing
// into the next ones. The period comes from the first step between timestamps; without
// timestamps, or with a step that gives no usable period, it stays off.
// Every series with a regular step has a daily period, but few are seasonal: on the others the
// difference is just a noisier copy of the value, and its new extremes are false alarms. So the
// difference is only `explaining` while its mean size stays well below the value's mean
// deviation from its own level (both averaged over about CYCLES cycles).

import { z } from 'zod';
import { RingBuffer } from '../ring.js';
import { finite, finiteArray } from '../state.js';
import { Extremes, extremesStateSchema } from './extremes.js';

const DAY_MS = 86_400_000;
const CYCLES = 3;
/** Points per day it handles: 4 (6-hour steps) to 1440 (1-minute steps). */
const MIN_PER_DAY = 4;
const MAX_PER_DAY = 1440;
/** Memory bound: three weeks of 5-minute points (a weekly cycle needs 5-minute steps or coarser). */
const MAX_VALUES = CYCLES * 7 * 288;
/**
 * The difference explains the series while its mean size is below this fraction of the value's
 * mean deviation. Daily-seasonal series (artificial daily, hourly ad exchange early on) stay below
 * 0.2-0.5; non-seasonal ones (cloud metrics, traffic) sit near 1, where a difference of two
 * independent noisy values would be.
 */
const EXPLAINED = 0.5;

export const seasonalStateSchema = z.object({
  firstMs: finite.nullable(),
  period: finite,
  values: finiteArray,
  level: finite,
  spread: finite,
  residual: finite,
  measured: finite,
});

export class SeasonalDifference {
  /** Points per cycle; 0 while unknown or unusable. */
  private periodPoints = 0;
  private firstMs: number | null = null;
  private decided = false;
  private values = new RingBuffer(1);
  /** Running averages (over about CYCLES cycles) of the value, its deviation from that level, and the difference's size. */
  private level = 0;
  private spread = 0;
  private residual = 0;
  private measured = 0;

  /** @param cycleDays 1 for daily seasonality, 7 for weekly. */
  constructor(private readonly cycleDays = 1) {}

  /** Points per cycle; 0 while unknown or unusable. */
  get period(): number {
    return this.periodPoints;
  }

  /** Whether the difference currently explains the series (see EXPLAINED); false while unknown. */
  get explaining(): boolean {
    return this.residual < EXPLAINED * this.spread;
  }

  /** The value minus the median at the same phase of the last cycles; undefined until known. */
  update(value: number, timestampMs: number | undefined): number | undefined {
    if (!this.decided) this.decide(timestampMs);
    if (this.periodPoints === 0) return undefined;
    const v = this.values;
    let difference: number | undefined;
    if (v.full) {
      const a = v.at(v.size - this.periodPoints);
      const b = v.at(v.size - 2 * this.periodPoints);
      const c = v.at(0);
      difference = value - Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
      this.measure(value, difference);
    }
    v.push(value);
    return difference;
  }

  private measure(value: number, difference: number): void {
    // A plain mean over the first points, then an exponential average over about CYCLES cycles.
    this.measured = Math.min(this.measured + 1, CYCLES * this.periodPoints);
    const a = 1 / this.measured;
    this.level += a * (value - this.level);
    this.spread += a * (Math.abs(value - this.level) - this.spread);
    this.residual += a * (Math.abs(difference) - this.residual);
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
    const perDay = step > 0 ? Math.round(DAY_MS / step) : 0;
    const period = perDay * this.cycleDays;
    if (perDay >= MIN_PER_DAY && perDay <= MAX_PER_DAY && CYCLES * period <= MAX_VALUES) this.setPeriod(period);
  }

  private setPeriod(period: number): void {
    this.periodPoints = period;
    this.values = new RingBuffer(CYCLES * period);
  }

  save(): z.infer<typeof seasonalStateSchema> {
    const { firstMs, level, spread, residual, measured } = this;
    return { firstMs, period: this.decided ? this.periodPoints : -1, values: this.values.toArray(), level, spread, residual, measured };
  }

  restore(state: z.infer<typeof seasonalStateSchema>): void {
    this.firstMs = state.firstMs;
    this.decided = state.period >= 0;
    this.periodPoints = 0;
    this.values = new RingBuffer(1);
    if (state.period > 0) this.setPeriod(state.period);
    this.values.fill(state.values);
    this.level = state.level;
    this.spread = state.spread;
    this.residual = state.residual;
    this.measured = state.measured;
  }
}

/**
 * Points a difference waits before it joins the range that later ones are judged against: a
 * deviation that builds over a few points (a holiday's missing morning peak) is measured against
 * the range from before it, not against its own first points. On the development subset 3, 6
 * and 12 score alike (its seasonal anomalies are abrupt); on synthetic half-hourly series with a
 * weekly shape and weekday holidays, including each difference at once found none of 9 holidays,
 * a lag of 3 to 12 found the first one of each series (later ones fall inside the range it widened).
 */
const RANGE_LAG = 6;

export const seasonalExcursionStateSchema = z.object({ difference: seasonalStateSchema, range: extremesStateSchema, pending: finiteArray });

/** How far a seasonal difference falls beyond its own range (units of its width), once that range spans a cycle and while the difference explains the series; else 0. */
export class SeasonalExcursion {
  private readonly difference: SeasonalDifference;
  private readonly range: Extremes;
  private readonly pending = new RingBuffer(RANGE_LAG);

  /** @param span points after which the range forgets an extreme */
  constructor(cycleDays: number, span: number) {
    this.difference = new SeasonalDifference(cycleDays);
    this.range = new Extremes(span);
  }

  update(value: number, timestampMs: number | undefined): number {
    const difference = this.difference.update(value, timestampMs);
    if (difference === undefined) return 0;
    const { range } = this;
    const excursion = range.seen >= this.difference.period && this.difference.explaining ? range.excursion(difference) : 0;
    const ready = this.pending.push(difference);
    if (ready !== undefined) range.include(ready);
    return excursion;
  }

  save(): z.infer<typeof seasonalExcursionStateSchema> {
    return { difference: this.difference.save(), range: this.range.save(), pending: this.pending.toArray() };
  }

  restore(state: z.infer<typeof seasonalExcursionStateSchema>): void {
    this.difference.restore(state.difference);
    this.range.restore(state.range);
    this.pending.fill(state.pending);
  }
}
