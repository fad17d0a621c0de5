// The part every HTTP sink shares: POST a JSON body through the retrying queue. Subclasses only
// say where to and in which shape, so retry, timeout and drop rules are the same for all of them.

import { ShadowvmError } from '../errors.js';
import { BUILT_IN_ALERTS } from '../policy/defaults.js';
import type { DeliverySettings } from '../policy/schema.js';
import { type Alert, type Alerter, type DeliveryStats, type WarningSink, warnOnStderr } from './alert.js';
import { DeliveryQueue } from './delivery-queue.js';

/** One failed POST. Client errors other than 408/429 will fail again, so they are not retried. */
export class AlertDeliveryError extends ShadowvmError {
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean) {
    super('alert-delivery', message);
    this.retryable = retryable;
  }
}

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

async function postJson(url: string, body: unknown, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Reading the body to the end frees the connection for the next alert.
    await response.arrayBuffer();
  } catch (error) {
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : '';
    throw new AlertDeliveryError(`POST ${url} failed: ${reason || String(error)}`, true);
  }
  if (!response.ok) {
    throw new AlertDeliveryError(`POST ${url} answered HTTP ${response.status}`, retryableStatus(response.status));
  }
}

export interface HttpAlerterOptions {
  /** Defaults to the built-in delivery settings. */
  readonly delivery?: Partial<DeliverySettings>;
  readonly warn?: WarningSink;
}

export abstract class HttpAlerter implements Alerter {
  readonly name: string;
  readonly #queue: DeliveryQueue<Alert>;

  protected constructor(name: string, url: string, options: HttpAlerterOptions) {
    this.name = name;
    const settings = { ...BUILT_IN_ALERTS.delivery, ...options.delivery };
    this.#queue = new DeliveryQueue(
      name,
      (alert: Alert) => postJson(url, this.body(alert), settings.timeoutMs),
      settings,
      options.warn ?? warnOnStderr,
    );
  }

  /** The JSON the receiver expects for one alert. */
  protected abstract body(alert: Alert): unknown;

  send(alert: Alert): void {
    this.#queue.push(alert);
  }

  flush(timeoutMs: number): Promise<boolean> {
    return this.#queue.flush(timeoutMs);
  }

  stats(): DeliveryStats {
    return this.#queue.stats();
  }
}
