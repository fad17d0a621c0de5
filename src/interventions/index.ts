// The intervention library: apply Decisions to a computation's primary and alert administrators.

export type { Alert, Alerter, DeliveryStats, WarningSink } from './alert.js';
export { type AlerterOptions, createAlerters } from './alerters.js';
export { AlertmanagerAlerter, type PostableAlert } from './alertmanager.js';
export { AlertDeliveryError } from './http-alerter.js';
export {
  type ActionRecord,
  type ActionStatus,
  Intervener,
  type IntervenerOptions,
  type IntervenerState,
} from './intervener.js';
export { LogAlerter } from './log-alerter.js';
export type { InterventionTarget, Outcome } from './target.js';
export { WebhookAlerter, type WebhookPayload } from './webhook.js';
