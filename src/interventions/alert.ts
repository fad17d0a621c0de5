// An alert as every sink receives it, and the contract of a sink: sending is fire-and-forget so
// a slow or dead receiver can never hold up the computation that raised the alert.

import type { AlertStatus } from '../policy/decision.js';
import type { VmIdentity } from '../policy/resolve.js';
import type { Severity } from '../policy/schema.js';

export interface Alert {
  readonly computation: string;
  readonly vm: VmIdentity;
  /** The level (or `forecast-<resource>`) alerted on; with computation and vm it identifies the alert. */
  readonly level: string;
  readonly severity: Severity;
  readonly status: AlertStatus;
  readonly score: number;
  readonly epoch: number;
  readonly reason: string;
  /** When the alert started firing; a resolution repeats it so receivers can pair the two. */
  readonly startsAt: Date;
  /** When this message was produced (the end time, for a resolution). */
  readonly time: Date;
}

export interface DeliveryStats {
  readonly delivered: number;
  /** Given up after the last attempt, or refused for good (e.g. HTTP 400). */
  readonly failed: number;
  /** Pushed out of a full queue, oldest first. */
  readonly dropped: number;
  /** Waiting or being sent. */
  readonly pending: number;
}

export interface Alerter {
  /** Where alerts go, for the action log and warnings, e.g. "webhook http://host/hook". */
  readonly name: string;
  /** Queues the alert and returns at once; delivery problems never reach the caller. */
  send(alert: Alert): void;
  /** True once everything queued is delivered or given up; false if `timeoutMs` passed first. */
  flush(timeoutMs: number): Promise<boolean>;
  stats(): DeliveryStats;
}

/** Where an alerter reports what the caller never sees (drops, give-ups): one line each. */
export type WarningSink = (message: string) => void;

export const warnOnStderr: WarningSink = (message) => {
  process.stderr.write(`shadowvm: warning: ${message}\n`);
};
