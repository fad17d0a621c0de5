// A bounded background queue that delivers items one at a time, in order, retrying failures with
// exponential backoff. Order matters because a resolution must not overtake its firing alert.
// When full it drops the oldest item: under an alert storm the newest state is the useful one.

import type { DeliverySettings } from '../policy/schema.js';
import type { DeliveryStats, WarningSink } from './alert.js';

/** Thrown by a delivery that must not be retried (the receiver refused the item for good). */
interface NonRetryable {
  readonly retryable: false;
}

function isNonRetryable(error: unknown): error is NonRetryable {
  return typeof error === 'object' && error !== null && (error as Partial<NonRetryable>).retryable === false;
}

function sleep(ms: number): Promise<void> {
  // Unref'd: a pending retry must not keep a finished process alive; shutdown calls flush().
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export class DeliveryQueue<T> {
  readonly #items: T[] = [];
  readonly #idleWaiters = new Set<() => void>();
  #sending = false;
  #delivered = 0;
  #failed = 0;
  #dropped = 0;

  constructor(
    private readonly name: string,
    private readonly deliver: (item: T) => Promise<void>,
    private readonly settings: Omit<DeliverySettings, 'timeoutMs'>,
    private readonly warn: WarningSink,
  ) {}

  push(item: T): void {
    if (this.#items.length >= this.settings.queueSize) {
      this.#items.shift();
      this.#dropped += 1;
      this.warn(`${this.name}: queue full (${this.settings.queueSize}), dropped the oldest alert ` + `(${this.#dropped} dropped so far)`);
    }
    this.#items.push(item);
    if (!this.#sending) void this.#drain();
  }

  flush(timeoutMs: number): Promise<boolean> {
    if (!this.#sending && this.#items.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.#idleWaiters.add(done);
    });
  }

  stats(): DeliveryStats {
    return {
      delivered: this.#delivered,
      failed: this.#failed,
      dropped: this.#dropped,
      pending: this.#items.length + (this.#sending ? 1 : 0),
    };
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    for (let item = this.#items.shift(); item !== undefined; item = this.#items.shift()) {
      await this.#deliverWithRetry(item);
    }
    this.#sending = false;
    for (const done of this.#idleWaiters) done();
    this.#idleWaiters.clear();
  }

  async #deliverWithRetry(item: T): Promise<void> {
    const { maxAttempts, initialBackoffMs, maxBackoffMs } = this.settings;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deliver(item);
        this.#delivered += 1;
        return;
      } catch (error) {
        if (isNonRetryable(error) || attempt >= maxAttempts) {
          this.#failed += 1;
          const message = error instanceof Error ? error.message : String(error);
          this.warn(`${this.name}: gave up on an alert after ${attempt} attempt(s): ${message}`);
          return;
        }
        await sleep(Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1)));
      }
    }
  }
}
