// Builds the sinks a policy's `alerts` section names.

import type { AlertSettings } from '../policy/schema.js';
import type { Alerter, WarningSink } from './alert.js';
import { AlertmanagerAlerter } from './alertmanager.js';
import { LogAlerter } from './log-alerter.js';
import { WebhookAlerter } from './webhook.js';

export interface AlerterOptions {
  /** Where the log sink writes a line (default: stderr). */
  readonly writeLine?: (line: string) => void;
  /** Where drops and give-ups are reported (default: stderr). */
  readonly warn?: WarningSink;
}

export function createAlerters(settings: AlertSettings, options: AlerterOptions = {}): Alerter[] {
  const http = { delivery: settings.delivery, warn: options.warn };
  return [
    ...(settings.log ? [new LogAlerter(options.writeLine)] : []),
    ...settings.webhooks.map((url) => new WebhookAlerter(url, http)),
    ...settings.alertmanagers.map((url) => new AlertmanagerAlerter(url, { ...http, generatorURL: settings.generatorURL })),
  ];
}
