// The audit trail in SQLite: interventions with their reasons, and raised predictions.

import type Database from 'better-sqlite3';
import { ComputationNotFoundError } from '../errors.js';
import { toIntervention, toPrediction } from '../rows/audit.js';
import { epochBounds } from '../rows/parse.js';
import type { AuditRepository, EpochRange, Intervention, Prediction, StoredIntervention, StoredPrediction } from '../types.js';
import { withReference } from './errors.js';

export class SqliteAudit implements AuditRepository {
  private readonly insertInterventionStmt: Database.Statement;
  private readonly getInterventionStmt: Database.Statement;
  private readonly listInterventionsStmt: Database.Statement;
  private readonly insertPredictionStmt: Database.Statement;
  private readonly listPredictionsStmt: Database.Statement;
  private readonly predictionsTx: (predictions: readonly Prediction[]) => void;

  constructor(db: Database.Database) {
    this.insertInterventionStmt = db.prepare(
      `INSERT INTO interventions (computation_id, vm_id, epoch, kind, reason, score, outcome, detail, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.getInterventionStmt = db.prepare('SELECT * FROM interventions WHERE id = ?');
    this.listInterventionsStmt = db.prepare('SELECT * FROM interventions WHERE computation_id = ? ORDER BY id');
    this.insertPredictionStmt = db.prepare(
      `INSERT INTO predictions (computation_id, vm_id, epoch, detector, score, level, at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.listPredictionsStmt = db.prepare('SELECT * FROM predictions WHERE computation_id = ? AND epoch >= ? AND epoch <= ? ORDER BY id');
    this.predictionsTx = db.transaction((predictions: readonly Prediction[]) => {
      const at = Date.now();
      for (const p of predictions) {
        this.insertPredictionStmt.run(p.computationId, p.vmId, p.epoch, p.detector, p.score, p.level, at);
      }
    });
  }

  appendIntervention(i: Intervention): StoredIntervention {
    const detail = i.detail === null ? null : JSON.stringify(i.detail);
    const { lastInsertRowid } = withReference(
      () => this.insertInterventionStmt.run(i.computationId, i.vmId, i.epoch, i.kind, i.reason, i.score, i.outcome, detail, Date.now()),
      () => new ComputationNotFoundError(i.computationId),
    );
    return toIntervention(this.getInterventionStmt.get(lastInsertRowid));
  }

  listInterventions(computationId: string): StoredIntervention[] {
    return this.listInterventionsStmt.all(computationId).map(toIntervention);
  }

  appendPredictions(predictions: readonly Prediction[]): void {
    const first = predictions[0];
    if (first === undefined) return;
    withReference(
      () => this.predictionsTx(predictions),
      () => new ComputationNotFoundError(first.computationId),
    );
  }

  listPredictions(computationId: string, range: EpochRange = {}): StoredPrediction[] {
    const { from, to } = epochBounds(range);
    return this.listPredictionsStmt.all(computationId, from, to).map(toPrediction);
  }
}
