// Alerts as log lines, for runs without any receiver and as a trail beside the HTTP sinks.

import type { Alert, Alerter, DeliveryStats } from './alert.js';

function alertLine(alert: Alert): string {
  return (
    `shadowvm alert ${alert.status} ${alert.level} severity=${alert.severity} ` +
    `computation=${alert.computation} vm=${alert.vm.id} epoch=${alert.epoch} ` +
    `score=${alert.score.toFixed(3)} reason=${JSON.stringify(alert.reason)}`
  );
}

export class LogAlerter implements Alerter {
  readonly name = 'log';
  #written = 0;

  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {}

  send(alert: Alert): void {
    this.write(alertLine(alert));
    this.#written += 1;
  }

  flush(): Promise<boolean> {
    return Promise.resolve(true);
  }

  stats(): DeliveryStats {
    return { delivered: this.#written, failed: 0, dropped: 0, pending: 0 };
  }
}
