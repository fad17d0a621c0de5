// The audit trail in the shape /interventions and the log page have always served (reason,
// score, outcome), built from the store's events and actions. Kept until the API serves those
// apart; the web dashboard reads this shape.

import type { Json, Store, StoredAction, StoredEvent } from '../store/types.js';

export interface AuditEntry {
  readonly id: number;
  readonly computationId: string;
  readonly vmId: string | null;
  readonly epoch: number | null;
  readonly kind: string;
  readonly reason: string;
  readonly score: number | null;
  readonly outcome: string | null;
  readonly detail: Json | null;
  readonly at: number;
}

export function eventEntry(event: StoredEvent): AuditEntry {
  const { message, ...rest } = event;
  return { ...rest, reason: message, score: null, outcome: null };
}

function actionEntry(action: StoredAction): AuditEntry {
  return {
    id: action.id,
    computationId: action.computationId,
    vmId: action.vmId,
    epoch: action.epoch,
    kind: action.kind,
    reason: action.reason,
    score: action.cause.kind === 'prediction' ? action.cause.score : null,
    outcome: `${action.status}: ${action.outcome}`,
    detail: { actor: action.actor, cause: action.cause, dryRun: action.dryRun },
    at: action.at,
  };
}

/**
 * A computation's events and actions as one list, oldest first. An action is logged once it is
 * done, so on the same millisecond the events it caused come first. Ids are the tables' own: an
 * event and an action may share one.
 */
export function auditTrail(store: Store, computationId: string): AuditEntry[] {
  const entries = [...store.audit.listEvents(computationId).map(eventEntry), ...store.audit.listActions(computationId).map(actionEntry)];
  return entries.sort((a, b) => a.at - b.at);
}
