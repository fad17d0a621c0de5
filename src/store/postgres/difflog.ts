// Writing one epoch's records in PostgreSQL: one transaction sent in one round trip from the
// caller. The rows that refer to a divergence take the id just assigned (currval), so no
// statement needs an earlier one's answer.

import type { EpochRecord } from '../../difflog/types.js';
import { type EpochWriter, insertDivergence, insertEpoch, insertVerdict, metricsRows } from '../rows/difflog.js';
import { toId } from '../rows/parse.js';
import type { SqlStatement, SqlValue } from '../rows/sql.js';
import type { AppendedEpoch, EpochAppend } from '../types.js';
import type { PostgresConnection } from './connection.js';
import { insertRows, lastId, valuesList } from './sql.js';

export function postgresEpochWriter(db: PostgresConnection): EpochWriter {
  return (batch: EpochAppend): AppendedEpoch => {
    const { statements, divergenceAt, verdictAt } = epochStatements(batch, Date.now());
    const results = db.transaction(statements);
    return {
      divergenceIds: divergenceAt.map((index) => toId(results[index]?.[0], 'divergence id')),
      verdictId: verdictAt === null ? null : toId(results[verdictAt]?.[0], 'verdict id'),
    };
  };
}

/**
 * The epoch row and its metrics rows as one statement: an epoch without divergences is then a
 * single statement, atomic on its own, and costs one round trip to the server.
 */
function epochInsert(record: EpochRecord, at: number): SqlStatement {
  const epoch = insertEpoch(record, at);
  const metrics = metricsRows(record.metrics);
  if (metrics.length === 0) return epoch;
  const params: SqlValue[] = [...epoch.params];
  // Parameters in a VALUES list are typed text, hence the casts to the columns' types.
  const sql = `WITH epoch AS (${epoch.sql})
    INSERT INTO epoch_metrics (epoch_id, vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra)
    SELECT epoch.id, m.vm_id, m.instructions::bigint, m.run_ms::double precision, m.digest_ms::double precision,
           m.memory_bytes::bigint, m.syscalls::bigint, m.extra
    FROM epoch, (VALUES ${valuesList(metrics, params)}) AS m (vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra)`;
  return { sql, params };
}

/** The statements of one epoch append, and which of them return the divergences' and the verdict's ids. */
function epochStatements(
  { record, divergences, verdict }: EpochAppend,
  at: number,
): { statements: SqlStatement[]; divergenceAt: number[]; verdictAt: number | null } {
  const statements: SqlStatement[] = [epochInsert(record, at)];
  const divergenceAt: number[] = [];
  for (const { divergence, deltas } of divergences) {
    divergenceAt.push(statements.length);
    statements.push(
      insertDivergence(divergence, at),
      ...insertRows({
        into: 'page_deltas (divergence_id, page, delta)',
        leading: [lastId('divergences')],
        rows: deltas.map(({ page, delta }) => [page, delta]),
      }),
    );
  }
  if (verdict === undefined) return { statements, divergenceAt, verdictAt: null };
  return { statements: [...statements, insertVerdict(verdict, at)], divergenceAt, verdictAt: statements.length };
}
