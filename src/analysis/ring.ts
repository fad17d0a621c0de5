// Fixed-capacity ring of numbers: the bounded memory behind every windowed detector.

export class RingBuffer {
  private readonly values: Float64Array;
  private head = 0; // index of the oldest value
  private count = 0;

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Appends a value; returns the value it evicted, or undefined while not yet full. */
  push(value: number): number | undefined {
    if (this.count < this.capacity) {
      this.values[(this.head + this.count) % this.capacity] = value;
      this.count++;
      return undefined;
    }
    const evicted = this.values[this.head];
    this.values[this.head] = value;
    this.head = (this.head + 1) % this.capacity;
    return evicted;
  }

  /** i = 0 is the oldest value held. */
  at(i: number): number {
    return this.values[(this.head + i) % this.capacity] ?? 0;
  }

  /** Oldest first, for saving. */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.at(i));
    return out;
  }

  /** Replaces the content (oldest first); keeps the newest `capacity` values. */
  fill(values: readonly number[]): void {
    this.head = 0;
    this.count = 0;
    for (const v of values.slice(-this.capacity)) this.push(v);
  }
}
