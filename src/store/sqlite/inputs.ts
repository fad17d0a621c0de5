// The computation's input log in SQLite: what the primary received, replayed to shadows and to
// restored VMs.

import type Database from 'better-sqlite3';
import type { InputRecord } from '../../drivers/types.js';
import { ComputationNotFoundError, InputLogOrderError } from '../errors.js';
import { DEFAULT_READ, selectInputCount, toInput, toInputCount } from '../rows/inputs.js';
import type { InputLogRepository } from '../types.js';
import { withReference } from './errors.js';
import type { SqliteRunner } from './runner.js';

export class SqliteInputs implements InputLogRepository {
  private readonly insertStmt: Database.Statement;
  private readonly readStmt: Database.Statement;
  private readonly appendTx: (computationId: string, records: readonly InputRecord[]) => void;

  constructor(
    db: Database.Database,
    private readonly runner: SqliteRunner,
  ) {
    this.insertStmt = db.prepare('INSERT INTO inputs (computation_id, seq, epoch, kind, payload) VALUES (?, ?, ?, ?, ?)');
    this.readStmt = db.prepare('SELECT seq, epoch, kind, payload FROM inputs WHERE computation_id = ? AND seq >= ? ORDER BY seq LIMIT ?');
    this.appendTx = db.transaction((computationId: string, records: readonly InputRecord[]) => {
      let expected = this.count(computationId);
      for (const record of records) {
        if (record.seq !== expected) throw new InputLogOrderError(computationId, expected, record.seq);
        this.insertStmt.run(computationId, record.seq, record.epoch, record.kind, record.payload);
        expected++;
      }
    });
  }

  append(computationId: string, records: readonly InputRecord[]): void {
    withReference(
      () => this.appendTx(computationId, records),
      () => new ComputationNotFoundError(computationId),
    );
  }

  read(computationId: string, from: number, limit = DEFAULT_READ): InputRecord[] {
    return this.readStmt.all(computationId, from, limit).map((row) => toInput(row, computationId));
  }

  count(computationId: string): number {
    return toInputCount(this.runner.query(selectInputCount(computationId))[0]);
  }
}
