// The computation's input log in PostgreSQL. The order check reads the log's length, then the
// records go in as one transaction; the (computation, seq) key turns a concurrent writer's race
// into the same InputLogOrderError.

import type { InputRecord } from '../../drivers/types.js';
import { ComputationNotFoundError, InputLogOrderError } from '../errors.js';
import { DEFAULT_READ, selectInputCount, toInput, toInputCount } from '../rows/inputs.js';
import type { SqlRunner } from '../rows/sql.js';
import type { InputLogRepository } from '../types.js';
import type { PostgresConnection } from './connection.js';
import { PostgresQueryError, SqlState, withReference } from './errors.js';
import { insertRows } from './sql.js';

export class PostgresInputs implements InputLogRepository {
  constructor(
    private readonly db: PostgresConnection,
    private readonly runner: SqlRunner,
  ) {}

  append(computationId: string, records: readonly InputRecord[]): void {
    const first = records[0];
    if (first === undefined) return;
    const start = this.count(computationId);
    records.forEach((record, i) => {
      if (record.seq !== start + i) throw new InputLogOrderError(computationId, start + i, record.seq);
    });
    const statements = insertRows({
      into: 'inputs (computation_id, seq, epoch, kind, payload)',
      rows: records.map((r) => [computationId, r.seq, r.epoch, r.kind, r.payload]),
    });
    try {
      withReference(
        () => this.db.transaction(statements),
        () => new ComputationNotFoundError(computationId),
      );
    } catch (error) {
      if (error instanceof PostgresQueryError && error.sqlstate === SqlState.uniqueViolation) {
        throw new InputLogOrderError(computationId, this.count(computationId), first.seq);
      }
      throw error;
    }
  }

  read(computationId: string, from: number, limit = DEFAULT_READ): InputRecord[] {
    return this.db
      .query('SELECT seq, epoch, kind, payload FROM inputs WHERE computation_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3', [
        computationId,
        from,
        limit,
      ])
      .map((row) => toInput(row, computationId));
  }

  count(computationId: string): number {
    return toInputCount(this.runner.query(selectInputCount(computationId))[0]);
  }
}
