// Regime detector: flags the START of a new behaviour in a stream whose normal behaviour is
// unknown in advance, then learns while the new behaviour becomes familiar (only new extremes
// fire meanwhile).
//
// 1. Values are quantised at several resolutions over the range seen so far. For each resolution
//    the detector remembers when it last saw each level and each pair (level k points ago, level
//    now) for k = 1..lags. A point's surprise is the fraction of those contexts it completes
//    without having seen them within `horizon` points. Coarse resolutions only go unseen for large
//    changes, so big anomalies score near 1 and small pattern changes score a little.
// 2. The surprise rate over a short window is judged against its own long-run mean and spread
//    (deviations in standard deviations), so one threshold fits series of any scale and noise.
// 3. Breakouts: a value beyond the range of the last `horizon` points by `breakout` of its width
//    fires at once (the range forgets, so one huge early anomaly does not hide later ones), and
//    so does a new extreme of the moving average over `average` points (a level shift inside a
//    range that an old spike widened), and so does a new extreme of the difference from the same
//    time on the previous days (seasonal.ts: a missing daily peak) or weeks (a weekday that looks
//    like a Sunday), while that difference explains the series (on non-seasonal series its
//    extremes were false alarms). New extremes are NAB's most reliable anomalies: on the
//    development subset, breakouts alone find 52 of its 64 windows for 25 false alarms (NAB
//    standard score 73.5; 80.3 with the surprise rate).
// 4. Output is sparse: only the point where the deviation first reaches `fireDeviation` (or a
//    breakout) scores above 0 (more the larger the deviation and the excursion); afterwards the
//    detector learns silently for `suppress` points, except that a breakout still fires (a weak
//    firing must not hide the large anomaly that follows it) unless it merely continues a run of
//    breakouts without scoring clearly higher (a plateau is one event, not one per point). NAB
//    rewards the earliest detection in a window and charges every extra one outside it.
// Memory is fixed: one table of last-seen indices and a few rings (the seasonal ones hold three
// cycles of points: at most 4320 values for a day, 6048 for a week of 5-minute points).

import { z } from 'zod';
import type { Detector, DetectorState } from '../detector.js';
import { DetectorStateError } from '../errors.js';
import { RingBuffer } from '../ring.js';
import { deviationScore } from '../score.js';
import { finite, finiteArray, parseOptions, parseState } from '../state.js';
import { Extremes, extremesStateSchema } from './extremes.js';
import { SeasonalExcursion, seasonalExcursionStateSchema } from './seasonal.js';

const NAME = 'regime';

const optionsSchema = z
  .object({
    /** Quantisation resolutions over the known range (each gets two more levels beyond it). */
    resolutions: z.array(z.number().int().min(2).max(40)).min(1).max(4).default([4, 8, 16]),
    /** Pair contexts (level k points ago, level now) for k = 1..lags. */
    lags: z.number().int().min(1).max(16).default(7),
    /** Points after which a context or an extreme not seen again counts as unseen (bounds what "normal" is). */
    horizon: z.number().int().min(1).default(10_000),
    /** Points that only teach the detector: scores stay 0. */
    learn: z.number().int().min(0).default(250),
    /** Length of the recent-surprise window. */
    shortWindow: z.number().int().min(1).max(1000).default(3),
    /** Forgetting of the long-run surprise statistics. */
    longAlpha: z.number().gt(0).lt(1).default(0.0002),
    /** Deviation (in standard deviations of the surprise rate) at which the detector fires. */
    fireDeviation: z.number().positive().default(2),
    /** Deviation that alone scores 0.5; weaker firings score below 0.5 unless far beyond the range. */
    confidentDeviation: z.number().positive().default(8),
    /** Points of learning only after a firing (a breakout still fires). */
    suppress: z.number().int().min(0).default(150),
    /** Excursion beyond the range of the last `horizon` points, as a fraction of its width, that fires at once. */
    breakout: z.number().positive().default(0.04),
    /** Length of the moving average whose new extremes are breakouts too. */
    average: z.number().int().min(2).max(1000).default(20),
    /**
     * Excursion of the daily- or weekly-seasonal difference (see seasonal.ts) beyond its own
     * range that fires at once. Higher than `breakout`: that difference is noisier than the value.
     */
    seasonalBreakout: z.number().positive().default(0.5),
  })
  .strict();

type Options = z.infer<typeof optionsSchema>;

/** Points after the learning period before the rate statistics are trusted. */
const RATE_WARMUP = 20;
/** Excursion (fraction of the known range) that alone makes a firing score 0.5. */
const EXCURSION_HALF = 0.25;
/** An extreme of the average is weaker evidence than one of the value: its excursion counts half. */
const AVERAGE_WEIGHT = 0.5;
/** Same for the seasonal difference, which is noisier still. */
const SEASONAL_WEIGHT = 0.25;
/**
 * Breakouts fewer than this many points apart belong to one run (one event). On the development
 * subset any gap from 1 to 10 scores within 0.2 of the others; 30 merges distinct anomalies.
 */
const RUN_GAP = 5;
/** How much more than the last firing a breakout continuing a run must score to fire (0.05 to 0.4 score alike). */
const ESCALATION = 0.2;

const stateSchema = z.object({
  count: finite,
  range: extremesStateSchema,
  recentRange: extremesStateSchema,
  averaged: finiteArray,
  averagedSum: finite,
  averageRange: extremesStateSchema,
  daily: seasonalExcursionStateSchema,
  weekly: seasonalExcursionStateSchema,
  lastSeen: z.array(z.tuple([finite, finite])),
  history: z.array(finiteArray),
  recent: finiteArray,
  recentSum: finite,
  excursions: finiteArray,
  rateMean: finite,
  rateVariance: finite,
  holdOff: finite,
  sinceBreakout: finite,
  firedScore: finite,
});

export class RegimeDetector implements Detector {
  readonly name = NAME;
  private readonly options: Options;
  /** Per context key, the point index it was last seen at (-1: never). */
  private readonly lastSeen: Float64Array;
  /** Per resolution, the last `lags` levels. */
  private readonly history: RingBuffer[];
  private readonly recent: RingBuffer;
  private readonly excursions: RingBuffer;
  /** All-time range: the quantiser's scale, which must not move when an old extreme is forgotten. */
  private readonly range = new Extremes();
  /** Range over the horizon: what a breakout must leave. */
  private readonly recentRange: Extremes;
  /** The last `average` values and their sum, and the range of their mean. */
  private readonly averaged: RingBuffer;
  private averagedSum = 0;
  private readonly averageRange: Extremes;
  private readonly daily: SeasonalExcursion;
  private readonly weekly: SeasonalExcursion;
  private count = 0;
  private recentSum = 0;
  private rateMean = 0;
  private rateVariance = 0;
  private holdOff = 0;
  /** Score of the last firing. */
  private firedScore = 0;
  /** Points since the last breakout, capped at RUN_GAP (also before the first). */
  private sinceBreakout = RUN_GAP;

  constructor(options?: Record<string, unknown>) {
    this.options = parseOptions(NAME, options, optionsSchema);
    const { resolutions, lags } = this.options;
    // One table for every resolution: its levels, then its lagged pairs.
    this.lastSeen = new Float64Array(resolutions.reduce((n, bins) => n + (bins + 2) * (1 + lags * (bins + 2)), 0)).fill(-1);
    this.history = resolutions.map(() => new RingBuffer(lags));
    this.recent = new RingBuffer(this.options.shortWindow);
    this.excursions = new RingBuffer(this.options.shortWindow);
    this.averaged = new RingBuffer(this.options.average);
    this.recentRange = new Extremes(this.options.horizon);
    this.averageRange = new Extremes(this.options.horizon);
    this.daily = new SeasonalExcursion(1, this.options.horizon);
    this.weekly = new SeasonalExcursion(7, this.options.horizon);
  }

  update(value: number, timestampMs?: number): number {
    // How far beyond the known range, in units of that range: large steps and spikes go far
    // beyond it, noise at most a little.
    const excursion = this.recentRange.excursion(value);
    this.recentRange.include(value);
    const averageExcursion = this.average(value);
    const seasonalExcursion = Math.max(this.daily.update(value, timestampMs), this.weekly.update(value, timestampMs));
    const broke = Math.max(excursion, averageExcursion) >= this.options.breakout || seasonalExcursion >= this.options.seasonalBreakout;
    this.excursions.push(Math.max(excursion, AVERAGE_WEIGHT * averageExcursion, SEASONAL_WEIGHT * seasonalExcursion));
    const surprise = this.surprise(value);
    const evicted = this.recent.push(surprise);
    this.recentSum += surprise - (evicted ?? 0);
    const rate = this.recentSum / this.recent.size;
    this.count++;
    if (this.count <= this.options.learn) return 0;
    // The rate statistics start after the learning period (early, all-new contexts would
    // inflate them) and need a few points before a deviation means anything.
    const warm = this.count > this.options.learn + RATE_WARMUP;
    const deviation = warm ? (rate - this.rateMean) / (Math.sqrt(this.rateVariance) + 1e-3) : 0;
    this.learnRate(rate);
    const held = this.holdOff > 0;
    if (held) this.holdOff--;
    const sinceBreakout = this.sinceBreakout;
    this.sinceBreakout = broke ? 0 : Math.min(RUN_GAP, sinceBreakout + 1);
    if ((held || deviation < this.options.fireDeviation) && !broke) return 0;
    // The largest over the recent window: a step's first point widens the range for the next.
    let recentExcursion = 0;
    for (let i = 0; i < this.excursions.size; i++) recentExcursion = Math.max(recentExcursion, this.excursions.at(i));
    const beyond = recentExcursion / (recentExcursion + EXCURSION_HALF);
    const score = 1 - (1 - deviationScore(Math.max(0, deviation), this.options.confidentDeviation)) * (1 - beyond);
    // While held, a breakout that continues a run fires again only if it scores clearly higher than
    // the last firing: a plateau pushes its moving average to a new extreme at every point for
    // `average` points (one event: one alarm), while a ramp that keeps steepening escalates.
    if (held && sinceBreakout < RUN_GAP && score < this.firedScore + ESCALATION) return 0;
    this.holdOff = this.options.suppress;
    this.firedScore = score;
    return score;
  }

  /** Adds the value to the moving average; returns the average's excursion beyond its own range. */
  private average(value: number): number {
    const evicted = this.averaged.push(value);
    this.averagedSum += value - (evicted ?? 0);
    if (!this.averaged.full) return 0;
    const mean = this.averagedSum / this.averaged.size;
    const excursion = this.averageRange.excursion(mean);
    this.averageRange.include(mean);
    return excursion;
  }

  /** Fraction of contexts, over all resolutions, that the point completes unseen within the horizon. */
  private surprise(value: number): number {
    if (this.range.seen === 0) this.range.include(value); // the first point defines the range
    const { low, high } = this.range;
    const t = this.count;
    const { horizon, lags, resolutions } = this.options;
    const span = high - low;
    let unseen = 0;
    let contexts = 0;
    let base = 0;
    for (let r = 0; r < resolutions.length; r++) {
      const bins = resolutions[r]!;
      const L = bins + 2;
      const level =
        value < low ? 0 : value > high ? L - 1 : span <= 0 ? 1 : 1 + Math.min(bins - 1, Math.floor(((value - low) / span) * bins));
      const history = this.history[r]!;
      const n = history.size;
      for (let k = 0; k <= Math.min(lags, n); k++) {
        // k = 0 is the level alone; k >= 1 pairs it with the level k points ago.
        const key = k === 0 ? base + level : base + L + ((k - 1) * L + history.at(n - k)) * L + level;
        const last = this.lastSeen[key]!;
        contexts++;
        if (last < 0 || t - last > horizon) unseen++;
        this.lastSeen[key] = t;
      }
      history.push(level);
      base += L * (1 + lags * L);
    }
    this.range.include(value);
    return unseen / contexts;
  }

  private learnRate(rate: number): void {
    const a = Math.max(this.options.longAlpha, 1 / (this.count - this.options.learn));
    const diff = rate - this.rateMean;
    this.rateMean += a * diff;
    this.rateVariance = (1 - a) * (this.rateVariance + a * diff * diff);
  }

  save(): DetectorState {
    const lastSeen: [number, number][] = [];
    this.lastSeen.forEach((t, key) => {
      if (t >= 0) lastSeen.push([key, t]);
    });
    return {
      detector: NAME,
      data: {
        count: this.count,
        range: this.range.save(),
        recentRange: this.recentRange.save(),
        averaged: this.averaged.toArray(),
        averagedSum: this.averagedSum,
        averageRange: this.averageRange.save(),
        daily: this.daily.save(),
        weekly: this.weekly.save(),
        lastSeen,
        history: this.history.map((h) => h.toArray()),
        recent: this.recent.toArray(),
        recentSum: this.recentSum,
        excursions: this.excursions.toArray(),
        rateMean: this.rateMean,
        rateVariance: this.rateVariance,
        holdOff: this.holdOff,
        sinceBreakout: this.sinceBreakout,
        firedScore: this.firedScore,
      },
    };
  }

  restore(state: DetectorState): void {
    const d = parseState(NAME, state, stateSchema);
    if (d.history.length !== this.history.length)
      throw new DetectorStateError(NAME, `state has ${d.history.length} resolutions, this detector ${this.history.length}`);
    this.count = d.count;
    this.range.restore(d.range);
    this.recentRange.restore(d.recentRange);
    this.averaged.fill(d.averaged);
    this.averagedSum = d.averagedSum;
    this.averageRange.restore(d.averageRange);
    this.daily.restore(d.daily);
    this.weekly.restore(d.weekly);
    this.lastSeen.fill(-1);
    for (const [key, t] of d.lastSeen) if (key >= 0 && key < this.lastSeen.length) this.lastSeen[key] = t;
    for (const [r, h] of this.history.entries()) h.fill(d.history[r]!);
    this.recent.fill(d.recent);
    this.recentSum = d.recentSum;
    this.excursions.fill(d.excursions);
    this.rateMean = d.rateMean;
    this.rateVariance = d.rateVariance;
    this.holdOff = d.holdOff;
    this.sinceBreakout = d.sinceBreakout;
    this.firedScore = d.firedScore;
  }
}
