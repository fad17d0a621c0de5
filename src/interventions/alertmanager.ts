// Prometheus Alertmanager, API v2: POST {base}/api/v2/alerts with an array of postable alerts
// ({labels, annotations, startsAt, endsAt?, generatorURL?}, label values strings, times RFC 3339).
// Labels identify an alert, so a resolution repeats the firing alert's labels with an endsAt.

import type { Alert } from './alert.js';
import { HttpAlerter, type HttpAlerterOptions } from './http-alerter.js';

export interface PostableAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  readonly endsAt?: string;
  readonly generatorURL?: string;
}

/** "predict-failure" → "ShadowvmPredictFailure": Alertmanager's usual CamelCase alert names. */
export function alertName(level: string): string {
  return `Shadowvm${level
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('')}`;
}

export function postableAlert(alert: Alert, generatorURL?: string): PostableAlert {
  return {
    labels: {
      alertname: alertName(alert.level),
      severity: alert.severity,
      computation: alert.computation,
      vm: alert.vm.id,
      role: alert.vm.role,
      profile: alert.vm.profile,
      level: alert.level,
    },
    annotations: {
      summary: `${alert.level} on VM ${alert.vm.id} of computation ${alert.computation}`,
      description: alert.reason,
      score: alert.score.toFixed(3),
      epoch: String(alert.epoch),
    },
    startsAt: alert.startsAt.toISOString(),
    ...(alert.status === 'resolved' ? { endsAt: alert.time.toISOString() } : {}),
    ...(generatorURL !== undefined ? { generatorURL } : {}),
  };
}

export interface AlertmanagerAlerterOptions extends HttpAlerterOptions {
  /** Back-link identifying what raised the alert (e.g. the computation's dashboard). */
  readonly generatorURL?: string;
}

export class AlertmanagerAlerter extends HttpAlerter {
  readonly #generatorURL: string | undefined;

  /** `baseUrl` is the Alertmanager's root, e.g. http://alertmanager:9093. */
  constructor(baseUrl: string, options: AlertmanagerAlerterOptions = {}) {
    super(`alertmanager ${baseUrl}`, `${baseUrl.replace(/\/+$/, '')}/api/v2/alerts`, options);
    this.#generatorURL = options.generatorURL;
  }

  protected override body(alert: Alert): PostableAlert[] {
    return [postableAlert(alert, this.#generatorURL)];
  }
}
