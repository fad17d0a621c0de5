// The computation's input log in SQLite: what the primary received, replayed to shadows and to
// restored VMs.

import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { InputRecord } from '../drivers/types.js';
import { ComputationNotFoundError, InputLogOrderError } from './errors.js';
import { bytes, parseRow } from './rows.js';
import { withReference } from './sqlite-errors.js';
import type { InputLogRepository } from './types.js';

export const DEFAULT_READ = 1000;

export const inputRow = z.object({ seq: z.number(), epoch: z.number(), kind: z.string(), payload: bytes });
export const countRow = z.object({ n: z.number() });

export class SqliteInputs implements InputLogRepository {
  private readonly insertStmt: Database.Statement;
  private readonly readStmt: Database.Statement;
  private readonly countStmt: Database.Statement;
  private readonly appendTx: (computationId: string, records: readonly InputRecord[]) => void;

  constructor(db: Database.Database) {
    this.insertStmt = db.prepare('INSERT INTO inputs (computation_id, seq, epoch, kind, payload) VALUES (?, ?, ?, ?, ?)');
    this.readStmt = db.prepare('SELECT seq, epoch, kind, payload FROM inputs WHERE computation_id = ? AND seq >= ? ORDER BY seq LIMIT ?');
    // seq runs 0, 1, 2… without gaps, so the next seq is the count.
    this.countStmt = db.prepare('SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM inputs WHERE computation_id = ?');
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
    return this.readStmt.all(computationId, from, limit).map((row) => parseRow(inputRow, row, `input of ${computationId}`));
  }

  count(computationId: string): number {
    return parseRow(countRow, this.countStmt.get(computationId), 'input count').n;
  }
}
