// A sliding window kept both in arrival order (to know what to evict) and sorted (so the median
// and the MAD cost O(window) simple steps instead of a sort per point).

import { RingBuffer } from '../ring.js';

export class SortedWindow {
  private readonly ring: RingBuffer;
  private readonly sorted: Float64Array;

  constructor(readonly capacity: number) {
    this.ring = new RingBuffer(capacity);
    this.sorted = new Float64Array(capacity);
  }

  get size(): number {
    return this.ring.size;
  }

  push(value: number): void {
    const n = this.ring.size;
    const evicted = this.ring.push(value);
    let len = n;
    if (evicted !== undefined) {
      const at = this.lowerBound(evicted, len);
      this.sorted.copyWithin(at, at + 1, len);
      len--;
    }
    const at = this.lowerBound(value, len);
    this.sorted.copyWithin(at + 1, at, len);
    this.sorted[at] = value;
  }

  median(): number {
    const n = this.ring.size;
    const s = this.sorted;
    const mid = n >> 1;
    return n % 2 === 1 ? s[mid]! : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  }

  /** Median absolute deviation from `centre`: merge outward from the centre, k-th smallest. */
  mad(centre: number): number {
    const n = this.ring.size;
    if (n === 0) return 0;
    const s = this.sorted;
    let right = this.lowerBound(centre, n);
    let left = right - 1;
    const k = n >> 1; // the (k+1)-th smallest distance (upper median for even n, cheap and robust)
    let d = 0;
    for (let taken = 0; taken <= k; taken++) {
      const dl = left >= 0 ? centre - s[left]! : Infinity;
      const dr = right < n ? s[right]! - centre : Infinity;
      if (dl <= dr) {
        d = dl;
        left--;
      } else {
        d = dr;
        right++;
      }
    }
    return d;
  }

  meanAbsoluteDeviation(centre: number): number {
    const n = this.ring.size;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.abs(this.sorted[i]! - centre);
    return n === 0 ? 0 : sum / n;
  }

  toArray(): number[] {
    return this.ring.toArray();
  }

  fill(values: readonly number[]): void {
    this.ring.fill([]);
    for (const v of values.slice(-this.capacity)) this.push(v);
  }

  private lowerBound(value: number, len: number): number {
    let lo = 0;
    let hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
