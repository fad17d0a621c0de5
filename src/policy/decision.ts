// What the evaluator asks for and the intervener carries out. A Decision is self-contained (it
// carries its rate limits and dry-run flag) so the intervener needs no copy of the policy.

import type { VmIdentity } from './resolve.js';
import type { RaiseAction, RateLimit, Severity } from './schema.js';

export type AlertStatus = 'firing' | 'resolved';

export type PlannedAction =
  | {
      readonly kind: 'alert';
      readonly status: AlertStatus;
      /** The level (or `forecast-<resource>`) the alert is about, which identifies it. */
      readonly alert: string;
      readonly severity: Severity;
      /** Absent for resolutions: telling admins a problem is over is never throttled. */
      readonly limit?: RateLimit;
    }
  | { readonly kind: 'rollback'; readonly limit?: RateLimit }
  | {
      readonly kind: RaiseAction;
      /** New limit = current limit × factor, capped at `max`. */
      readonly factor: number;
      readonly max?: number;
      readonly limit?: RateLimit;
    };

export interface Decision {
  readonly vm: VmIdentity;
  readonly epoch: number;
  readonly score: number;
  /** A level entered or left, or a forecast that entered (or left) its horizon. */
  readonly cause: 'level-up' | 'level-down' | 'forecast';
  /** The VM's level after this decision (null: below every level). */
  readonly level: string | null;
  /** One line for people: what crossed what. */
  readonly reason: string;
  readonly dryRun: boolean;
  readonly actions: readonly PlannedAction[];
}
