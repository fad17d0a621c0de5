// The audit trail in PostgreSQL: interventions with their reasons, and raised predictions.

import { ComputationNotFoundError } from '../errors.js';
import { toIntervention, toPrediction } from '../rows/audit.js';
import { epochBounds } from '../rows/parse.js';
import type { AuditRepository, EpochRange, Intervention, Prediction, StoredIntervention, StoredPrediction } from '../types.js';
import type { PostgresConnection } from './connection.js';
import { withReference } from './errors.js';
import { insertRows } from './sql.js';

export class PostgresAudit implements AuditRepository {
  constructor(private readonly db: PostgresConnection) {}

  appendIntervention(i: Intervention): StoredIntervention {
    const detail = i.detail === null ? null : JSON.stringify(i.detail);
    const [row] = withReference(
      () =>
        this.db.query(
          `INSERT INTO interventions (computation_id, vm_id, epoch, kind, reason, score, outcome, detail, at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
          [i.computationId, i.vmId, i.epoch, i.kind, i.reason, i.score, i.outcome, detail, Date.now()],
        ),
      () => new ComputationNotFoundError(i.computationId),
    );
    return toIntervention(row);
  }

  listInterventions(computationId: string): StoredIntervention[] {
    return this.db.query('SELECT * FROM interventions WHERE computation_id = $1 ORDER BY id', [computationId]).map(toIntervention);
  }

  appendPredictions(predictions: readonly Prediction[]): void {
    const first = predictions[0];
    if (first === undefined) return;
    const at = Date.now();
    const statements = insertRows({
      into: 'predictions (computation_id, vm_id, epoch, detector, score, level, at)',
      rows: predictions.map((p) => [p.computationId, p.vmId, p.epoch, p.detector, p.score, p.level, at]),
    });
    withReference(
      () => this.db.transaction(statements),
      () => new ComputationNotFoundError(first.computationId),
    );
  }

  listPredictions(computationId: string, range: EpochRange = {}): StoredPrediction[] {
    const { from, to } = epochBounds(range);
    return this.db
      .query('SELECT * FROM predictions WHERE computation_id = $1 AND epoch >= $2 AND epoch <= $3 ORDER BY id', [computationId, from, to])
      .map(toPrediction);
  }
}
