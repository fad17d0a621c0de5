// Novelty detector, built for streams whose normal behaviour is unknown in advance (NAB-style).
//
// 1. Values are quantised over the range seen so far; the detector remembers which short
//    sequences of levels ("contexts", orders 1..3) it has seen. A point that completes a never-seen
//    context, or that leaves the known range, is novel.
// 2. Novelty alone fires constantly on noisy series, so it is judged against its own history: the
//    recent rate of novelty is compared with its long-run distribution (a tail probability, so
//    scores are comparable across series of any scale).
// 3. An alarm should mark the start of an anomaly, once: after a firing, scores are held at 0 for
//    a while.
// Memory is fixed: a table of bins^3 context counts and a few running statistics.

import { z } from 'zod';
import type { Detector, DetectorState } from '../detector.js';
import { RingBuffer } from '../ring.js';
import { deviationScore } from '../score.js';
import { finite, finiteArray, parseOptions, parseState } from '../state.js';

const NAME = 'novelty';

const optionsSchema = z
  .object({
    /** Quantisation levels over the known range (two more levels catch values beyond it). */
    bins: z.number().int().min(2).max(40).default(12),
    /** Points before any score above 0: the detector only learns. */
    learn: z.number().int().min(0).default(150),
    /** Length of the recent-novelty window. */
    shortWindow: z.number().int().min(1).max(1000).default(6),
    /** Forgetting of the long-run novelty statistics. */
    longAlpha: z.number().gt(0).lt(1).default(0.002),
    /** Standard deviations of the novelty rate above its long-run mean that score 0.5 and fire. */
    fireDeviation: z.number().positive().default(3),
    /** Points held at 0 after a firing. */
    suppress: z.number().int().min(0).default(100),
  })
  .strict();

type Options = z.infer<typeof optionsSchema>;

const RATE_WARMUP = 20;

const stateSchema = z.object({
  count: finite,
  low: finite,
  high: finite,
  previous: z.tuple([finite, finite]),
  contexts: z.array(z.tuple([finite, finite])),
  recent: finiteArray,
  recentSum: finite,
  rateMean: finite,
  rateVariance: finite,
  holdOff: finite,
});

export class NoveltyDetector implements Detector {
  readonly name = NAME;
  private readonly options: Options;
  private readonly levels: number;
  private readonly contextCounts: Uint32Array;
  private readonly recent: RingBuffer;
  private count = 0;
  private low = 0;
  private high = 0;
  private previous: [number, number] = [-1, -1];
  private recentSum = 0;
  private rateMean = 0;
  private rateVariance = 0;
  private holdOff = 0;

  constructor(options?: Record<string, unknown>) {
    this.options = parseOptions(NAME, options, optionsSchema);
    this.levels = this.options.bins + 2;
    // Orders 1, 2 and 3 share one table: keys 0..L-1, L..L+L^2-1, then the triples.
    this.contextCounts = new Uint32Array(this.levels + this.levels ** 2 + this.levels ** 3);
    this.recent = new RingBuffer(this.options.shortWindow);
  }

  update(value: number): number {
    const novelty = this.novelty(value);
    const rate = this.observeNovelty(novelty);
    this.count++;
    if (this.count <= this.options.learn) return 0;
    // The rate statistics start after the learning period (the early, all-new contexts would
    // inflate them) and need a few points before their deviation means anything.
    const sigma = Math.sqrt(this.rateVariance) + 1e-3;
    const warm = this.count > this.options.learn + RATE_WARMUP;
    const score = warm ? deviationScore(Math.max(0, (rate - this.rateMean) / sigma), this.options.fireDeviation) : 0;
    this.learnRate(rate);
    if (this.holdOff > 0) {
      this.holdOff--;
      return 0;
    }
    if (score >= 0.5) this.holdOff = this.options.suppress;
    return score;
  }

  /** Fraction of unseen contexts (orders 1..3) the point completes; 1 beyond the known range. */
  private novelty(value: number): number {
    if (this.count === 0) {
      this.low = value;
      this.high = value;
    }
    const span = this.high - this.low;
    const outside = value < this.low || value > this.high;
    const L = this.levels;
    const bins = this.options.bins;
    const level =
      span <= 0
        ? value === this.low
          ? 1
          : value < this.low
            ? 0
            : L - 1
        : value < this.low
          ? 0
          : value > this.high
            ? L - 1
            : 1 + Math.min(bins - 1, Math.floor(((value - this.low) / span) * bins));
    const [p2, p1] = this.previous;
    let unseen = 0;
    let orders = 0;
    const keys = [level, p1 >= 0 ? L + p1 * L + level : -1, p2 >= 0 ? L + L * L + (p2 * L + p1) * L + level : -1];
    for (const key of keys) {
      if (key < 0) continue;
      orders++;
      if (this.contextCounts[key] === 0) unseen++;
      this.contextCounts[key]!++;
    }
    this.previous = [p1, level];
    if (value < this.low) this.low = value;
    if (value > this.high) this.high = value;
    return outside && this.count > 0 ? 1 : orders === 0 ? 0 : unseen / orders;
  }

  /** Recent novelty rate (mean over the short window). */
  private observeNovelty(novelty: number): number {
    const evicted = this.recent.push(novelty);
    this.recentSum += novelty - (evicted ?? 0);
    return this.recentSum / this.recent.size;
  }

  private learnRate(rate: number): void {
    const a = Math.max(this.options.longAlpha, 1 / (this.count - this.options.learn));
    const diff = rate - this.rateMean;
    this.rateMean += a * diff;
    this.rateVariance = (1 - a) * (this.rateVariance + a * diff * diff);
  }

  save(): DetectorState {
    const contexts: [number, number][] = [];
    this.contextCounts.forEach((c, key) => {
      if (c > 0) contexts.push([key, c]);
    });
    return {
      detector: NAME,
      data: {
        count: this.count,
        low: this.low,
        high: this.high,
        previous: [...this.previous],
        contexts,
        recent: this.recent.toArray(),
        recentSum: this.recentSum,
        rateMean: this.rateMean,
        rateVariance: this.rateVariance,
        holdOff: this.holdOff,
      },
    };
  }

  restore(state: DetectorState): void {
    const d = parseState(NAME, state, stateSchema);
    this.count = d.count;
    this.low = d.low;
    this.high = d.high;
    this.previous = [d.previous[0], d.previous[1]];
    this.contextCounts.fill(0);
    for (const [key, c] of d.contexts) if (key >= 0 && key < this.contextCounts.length) this.contextCounts[key] = c;
    this.recent.fill(d.recent);
    this.recentSum = d.recentSum;
    this.rateMean = d.rateMean;
    this.rateVariance = d.rateVariance;
    this.holdOff = d.holdOff;
  }
}
