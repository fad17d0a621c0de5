// The audit trail, implemented once for both stores (every statement in it runs on both
// dialects as written): events, actions with their cause as JSON, alerts, and predictions.

import { z } from 'zod';
import { AlertNotFoundError, ComputationNotFoundError } from '../errors.js';
import type {
  ActionActor,
  ActionCause,
  AuditRepository,
  EpochRange,
  NewAction,
  NewAlert,
  NewEvent,
  Prediction,
  StoredAction,
  StoredAlert,
  StoredEvent,
  StoredPrediction,
  Timestamp,
} from '../types.js';
import { epochBounds, flag, jsonSchema, parseJson, parseRow } from './parse.js';
import { type SqlRunner, type SqlStatement, updateOnce } from './sql.js';

export class SqlAudit implements AuditRepository {
  constructor(private readonly db: SqlRunner) {}

  appendEvent(event: NewEvent): StoredEvent {
    return toEvent(this.insert(event.computationId, insertEvent(event, Date.now())));
  }

  listEvents(computationId: string): StoredEvent[] {
    return this.db.query(selectEvents(computationId)).map(toEvent);
  }

  appendAction(action: NewAction): StoredAction {
    return toAction(this.insert(action.computationId, insertAction(action, Date.now())));
  }

  listActions(computationId: string): StoredAction[] {
    return this.db.query(selectActions(computationId)).map(toAction);
  }

  appendPredictions(predictions: readonly Prediction[]): StoredPrediction[] {
    const first = predictions[0];
    if (first === undefined) return [];
    const at = Date.now();
    const results = this.db.withReference(
      () => this.db.transaction(predictions.map((p) => insertPrediction(p, at))),
      () => new ComputationNotFoundError(first.computationId),
    );
    return results.map(([row]) => toPrediction(row));
  }

  listPredictions(computationId: string, range: EpochRange = {}): StoredPrediction[] {
    return this.db.query(selectPredictions(computationId, range)).map(toPrediction);
  }

  openAlert(alert: NewAlert): StoredAlert {
    return toAlert(this.insert(alert.computationId, insertAlert(alert, Date.now())));
  }

  resolveAlert(id: number, resolution: { readonly epoch: number; readonly reason: string }): void {
    const update = updateAlertResolution(id, resolution, Date.now());
    updateOnce(this.db.query, update, selectAlertId(id), () => new AlertNotFoundError(id));
  }

  listAlerts(computationId: string): StoredAlert[] {
    return this.db.query(selectAlerts(computationId)).map(toAlert);
  }

  /** The row an insert RETURNed; ComputationNotFoundError when its computation is missing. */
  private insert(computationId: string, statement: SqlStatement): unknown {
    return this.db.withReference(
      () => this.db.query(statement),
      () => new ComputationNotFoundError(computationId),
    )[0];
  }
}

// ---- events -------------------------------------------------------------------------------------

/** Inserts an event and RETURNs its row. */
function insertEvent(event: NewEvent, at: Timestamp): SqlStatement {
  return {
    sql: `INSERT INTO events (computation_id, vm_id, epoch, kind, message, detail, at)
          VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    params: [
      event.computationId,
      event.vmId,
      event.epoch,
      event.kind,
      event.message,
      event.detail === null ? null : JSON.stringify(event.detail),
      at,
    ],
  };
}

function selectEvents(computationId: string): SqlStatement {
  return { sql: 'SELECT * FROM events WHERE computation_id = $1 ORDER BY id', params: [computationId] };
}

const eventRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  vm_id: z.string().nullable(),
  epoch: z.number().nullable(),
  kind: z.string(),
  message: z.string(),
  detail: z.string().nullable(),
  at: z.number(),
});

function toEvent(row: unknown): StoredEvent {
  const r = parseRow(eventRow, row, 'event');
  return {
    id: r.id,
    at: r.at,
    computationId: r.computation_id,
    vmId: r.vm_id,
    epoch: r.epoch,
    kind: r.kind,
    message: r.message,
    detail: r.detail === null ? null : parseJson(r.detail, jsonSchema, `detail of event ${r.id}`),
  };
}

// ---- actions ------------------------------------------------------------------------------------

/** Inserts an action and RETURNs its row. */
function insertAction(action: NewAction, at: Timestamp): SqlStatement {
  return {
    sql: `INSERT INTO actions (computation_id, epoch, kind, vm_id, actor, cause, reason, status, outcome, dry_run, at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
    params: [
      action.computationId,
      action.epoch,
      action.kind,
      action.vmId,
      action.actor,
      JSON.stringify(action.cause),
      action.reason,
      action.status,
      action.outcome,
      action.dryRun ? 1 : 0,
      at,
    ],
  };
}

function selectActions(computationId: string): SqlStatement {
  return { sql: 'SELECT * FROM actions WHERE computation_id = $1 ORDER BY id', params: [computationId] };
}

const actorSchema: z.ZodType<ActionActor> = z.enum(['vote', 'policy', 'api', 'cli', 'manager']);

const causeSchema: z.ZodType<ActionCause> = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('verdict'),
    epoch: z.number(),
    attempt: z.number(),
    verdict: z.string(),
    blamed: z.array(z.string()),
  }),
  z.object({
    kind: z.literal('prediction'),
    predictionId: z.number(),
    rule: z.string(),
    level: z.string().nullable(),
    score: z.number(),
  }),
  z.object({ kind: z.literal('request'), reason: z.string() }),
]);

const actionRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  epoch: z.number(),
  kind: z.string(),
  vm_id: z.string().nullable(),
  actor: z.string(),
  cause: z.string(),
  reason: z.string(),
  status: z.string(),
  outcome: z.string(),
  dry_run: flag,
  at: z.number(),
});

function toAction(row: unknown): StoredAction {
  const r = parseRow(actionRow, row, 'action');
  const what = `action ${r.id}`;
  return {
    id: r.id,
    at: r.at,
    computationId: r.computation_id,
    epoch: r.epoch,
    kind: r.kind,
    vmId: r.vm_id,
    actor: parseRow(actorSchema, r.actor, `actor of ${what}`),
    cause: parseJson(r.cause, causeSchema, `cause of ${what}`),
    reason: r.reason,
    status: r.status,
    outcome: r.outcome,
    dryRun: r.dry_run,
  };
}

// ---- alerts -------------------------------------------------------------------------------------

/** Inserts an open alert and RETURNs its row. */
function insertAlert(alert: NewAlert, at: Timestamp): SqlStatement {
  return {
    sql: `INSERT INTO alerts (computation_id, vm_id, name, severity, epoch, reason, fired_at, resolved_epoch, resolved_at, resolution)
          VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL) RETURNING *`,
    params: [alert.computationId, alert.vmId, alert.name, alert.severity, alert.epoch, alert.reason, at],
  };
}

/** Resolves an alert unless it is resolved already (see updateOnce). */
function updateAlertResolution(id: number, resolution: { readonly epoch: number; readonly reason: string }, at: Timestamp): SqlStatement {
  return {
    sql: `UPDATE alerts SET resolved_epoch = $2, resolved_at = $3, resolution = $4
          WHERE id = $1 AND resolved_at IS NULL RETURNING id`,
    params: [id, resolution.epoch, at, resolution.reason],
  };
}

function selectAlertId(id: number): SqlStatement {
  return { sql: 'SELECT id FROM alerts WHERE id = $1', params: [id] };
}

/** In the order they fired. */
function selectAlerts(computationId: string): SqlStatement {
  return { sql: 'SELECT * FROM alerts WHERE computation_id = $1 ORDER BY id', params: [computationId] };
}

const alertRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  vm_id: z.string(),
  name: z.string(),
  severity: z.string(),
  epoch: z.number(),
  reason: z.string(),
  fired_at: z.number(),
  resolved_epoch: z.number().nullable(),
  resolved_at: z.number().nullable(),
  resolution: z.string().nullable(),
});

function toAlert(row: unknown): StoredAlert {
  const r = parseRow(alertRow, row, 'alert');
  return {
    id: r.id,
    computationId: r.computation_id,
    vmId: r.vm_id,
    name: r.name,
    severity: r.severity,
    epoch: r.epoch,
    reason: r.reason,
    firedAt: r.fired_at,
    resolvedEpoch: r.resolved_epoch,
    resolvedAt: r.resolved_at,
    resolution: r.resolution,
  };
}

// ---- predictions --------------------------------------------------------------------------------

/** Inserts a prediction and RETURNs its row. */
function insertPrediction(prediction: Prediction, at: Timestamp): SqlStatement {
  return {
    sql: `INSERT INTO predictions (computation_id, vm_id, epoch, detector, score, level, at)
          VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    params: [prediction.computationId, prediction.vmId, prediction.epoch, prediction.detector, prediction.score, prediction.level, at],
  };
}

function selectPredictions(computationId: string, range: EpochRange): SqlStatement {
  const { from, to } = epochBounds(range);
  return {
    sql: 'SELECT * FROM predictions WHERE computation_id = $1 AND epoch >= $2 AND epoch <= $3 ORDER BY id',
    params: [computationId, from, to],
  };
}

const predictionRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  vm_id: z.string(),
  epoch: z.number(),
  detector: z.string(),
  score: z.number(),
  level: z.enum(['warning', 'failure']),
  at: z.number(),
});

function toPrediction(row: unknown): StoredPrediction {
  const r = parseRow(predictionRow, row, 'prediction');
  return {
    id: r.id,
    at: r.at,
    computationId: r.computation_id,
    vmId: r.vm_id,
    epoch: r.epoch,
    detector: r.detector,
    score: r.score,
    level: r.level,
  };
}
