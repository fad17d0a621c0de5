// The range of a stream (all-time, or over roughly its last `span` points) and how far a new point
// falls outside it. A new extreme well beyond everything seen is the plainest anomaly there is,
// and on NAB the most reliable one. Forgetting after `span` points lets an anomaly smaller than an
// old one count again, as long as the old one is no longer part of what is normal.

import { z } from 'zod';
import { RingBuffer } from '../ring.js';
import { finite, finiteArray } from '../state.js';

/** A windowed range moves by blocks of span / BLOCKS points: memory is 2 * BLOCKS numbers. */
const BLOCKS = 8;

export const extremesStateSchema = z.object({ low: finite, high: finite, seen: finite, lows: finiteArray, highs: finiteArray });

export class Extremes {
  /** Points per block; Infinity for the all-time range (one block that never closes). */
  private readonly block: number;
  private readonly lows = new RingBuffer(BLOCKS);
  private readonly highs = new RingBuffer(BLOCKS);
  /** Range of the open block. */
  private blockLow = 0;
  private blockHigh = 0;
  /** Range of the closed blocks, kept so that a point costs O(1) (recomputed when a block closes). */
  private closedLow = Infinity;
  private closedHigh = -Infinity;
  private seenCount = 0;
  /** Points in the open block (a counter, not seen % block: a float modulo per point is slow). */
  private inBlock = 0;

  constructor(span = Infinity) {
    this.block = Number.isFinite(span) ? Math.max(1, Math.ceil(span / BLOCKS)) : Infinity;
  }

  get seen(): number {
    return this.seenCount;
  }

  get low(): number {
    return Math.min(this.blockLow, this.closedLow);
  }

  get high(): number {
    return Math.max(this.blockHigh, this.closedHigh);
  }

  /** Distance beyond the range in units of the range's width: 0 inside it and for the first point. */
  excursion(value: number): number {
    if (this.seenCount === 0) return 0;
    const low = Math.min(this.blockLow, this.closedLow);
    const high = Math.max(this.blockHigh, this.closedHigh);
    const span = high - low;
    return Math.max(0, value - high, low - value) / (span > 0 ? span : Math.abs(high) + 1);
  }

  include(value: number): void {
    if (this.inBlock === this.block) {
      this.lows.push(this.blockLow);
      this.highs.push(this.blockHigh);
      this.closeBlocks();
      this.inBlock = 0;
    }
    if (this.inBlock === 0 || value < this.blockLow) this.blockLow = value;
    if (this.inBlock === 0 || value > this.blockHigh) this.blockHigh = value;
    this.inBlock++;
    this.seenCount++;
  }

  private closeBlocks(): void {
    this.closedLow = Infinity;
    this.closedHigh = -Infinity;
    for (let i = 0; i < this.lows.size; i++) {
      this.closedLow = Math.min(this.closedLow, this.lows.at(i));
      this.closedHigh = Math.max(this.closedHigh, this.highs.at(i));
    }
  }

  save(): z.infer<typeof extremesStateSchema> {
    return { low: this.blockLow, high: this.blockHigh, seen: this.seenCount, lows: this.lows.toArray(), highs: this.highs.toArray() };
  }

  restore(state: z.infer<typeof extremesStateSchema>): void {
    this.blockLow = state.low;
    this.blockHigh = state.high;
    this.seenCount = state.seen;
    this.inBlock = state.seen === 0 ? 0 : Number.isFinite(this.block) ? ((state.seen - 1) % this.block) + 1 : state.seen;
    this.lows.fill(state.lows);
    this.highs.fill(state.highs);
    this.closeBlocks();
  }
}
