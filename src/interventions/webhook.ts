// A generic JSON webhook: one flat object per alert, easy to route into chat or ticketing tools.

import type { Alert } from './alert.js';
import { HttpAlerter, type HttpAlerterOptions } from './http-alerter.js';

/** The body POSTed for each alert. */
export interface WebhookPayload {
  readonly computation: string;
  readonly vm: string;
  readonly role: string;
  readonly profile: string;
  readonly level: string;
  readonly severity: string;
  readonly status: 'firing' | 'resolved';
  readonly score: number;
  readonly reason: string;
  readonly epoch: number;
  /** ISO 8601. */
  readonly time: string;
  readonly startsAt: string;
}

export function webhookPayload(alert: Alert): WebhookPayload {
  return {
    computation: alert.computation,
    vm: alert.vm.id,
    role: alert.vm.role,
    profile: alert.vm.profile,
    level: alert.level,
    severity: alert.severity,
    status: alert.status,
    score: alert.score,
    reason: alert.reason,
    epoch: alert.epoch,
    time: alert.time.toISOString(),
    startsAt: alert.startsAt.toISOString(),
  };
}

export class WebhookAlerter extends HttpAlerter {
  constructor(url: string, options: HttpAlerterOptions = {}) {
    super(`webhook ${url}`, url, options);
  }

  protected override body(alert: Alert): WebhookPayload {
    return webhookPayload(alert);
  }
}
