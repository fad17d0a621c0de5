// The differential log in PostgreSQL. An epoch append is one transaction sent in one round trip
// from the caller: the rows that refer to a divergence take the id just assigned (currval), so no
// statement needs an earlier one's answer.

import { z } from 'zod';
import type { DivergenceId, EpochRecord, PageDelta } from '../../difflog/types.js';
import { ComputationNotFoundError } from '../errors.js';
import {
  EPOCHS_SQL,
  LOG_STATS_SQL,
  metricsRows,
  pageLimit,
  splitDivergence,
  toDivergencePage,
  toEpochRecords,
  toLogStats,
  toPageDelta,
} from '../rows/difflog.js';
import { epochBounds, parseRow } from '../rows/parse.js';
import type { SqlStatement, SqlValue } from '../rows/sql.js';
import type {
  AppendedEpoch,
  DiffLogRepository,
  DivergenceQuery,
  EpochAppend,
  EpochRange,
  LogStats,
  Paged,
  StoredDivergence,
  StoredEpochRecord,
} from '../types.js';
import type { PostgresConnection } from './connection.js';
import { withReference } from './errors.js';
import { insertRows, lastId, valuesList } from './sql.js';

const idRow = z.object({ id: z.number() });

export class PostgresDiffLog implements DiffLogRepository {
  constructor(private readonly db: PostgresConnection) {}

  appendEpoch(batch: EpochAppend): AppendedEpoch {
    const { statements, divergenceAt } = epochStatements(batch, Date.now());
    const results = withReference(
      () => this.db.transaction(statements),
      () => new ComputationNotFoundError(batch.record.computationId),
    );
    return { divergenceIds: divergenceAt.map((index) => parseRow(idRow, results[index]?.[0], 'divergence id').id) };
  }

  readEpochs(computationId: string, range: EpochRange = {}): StoredEpochRecord[] {
    const { from, to } = epochBounds(range);
    return toEpochRecords(this.db.query(EPOCHS_SQL, [computationId, from, to]));
  }

  readDivergences(computationId: string, query: DivergenceQuery = {}): Paged<StoredDivergence> {
    const { from, to } = epochBounds(query);
    const limit = pageLimit(query);
    const rows = this.db.query(
      `SELECT * FROM divergences WHERE computation_id = $1 AND epoch >= $2 AND epoch <= $3 AND id > $4
       ORDER BY id LIMIT $5`,
      [computationId, from, to, query.after ?? 0, limit + 1],
    );
    return toDivergencePage(rows, limit);
  }

  readPageDeltas(divergenceId: DivergenceId): PageDelta[] {
    return this.db
      .query('SELECT * FROM page_deltas WHERE divergence_id = $1 ORDER BY page', [divergenceId])
      .map((row) => toPageDelta(row, divergenceId));
  }

  stats(computationId: string): LogStats {
    return toLogStats(this.db.query(LOG_STATS_SQL, [computationId])[0]);
  }
}

/**
 * The epoch row and its metrics rows as one statement: an epoch without divergences is then a
 * single statement, atomic on its own, and costs one round trip to the server.
 */
function epochInsert(record: EpochRecord, at: number): SqlStatement {
  const params: SqlValue[] = [record.computationId, record.epoch, record.verified ? 1 : 0, at];
  const epoch = 'INSERT INTO epochs (computation_id, epoch, verified, at) VALUES ($1, $2, $3, $4)';
  const metrics = metricsRows(record.metrics);
  if (metrics.length === 0) return { sql: epoch, params };
  // Parameters in a VALUES list are typed text, hence the casts to the columns' types.
  const sql = `WITH epoch AS (${epoch} RETURNING id)
    INSERT INTO epoch_metrics (epoch_id, vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra)
    SELECT epoch.id, m.vm_id, m.instructions::bigint, m.run_ms::double precision, m.digest_ms::double precision,
           m.memory_bytes::bigint, m.syscalls::bigint, m.extra
    FROM epoch, (VALUES ${valuesList(metrics, params)}) AS m (vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra)`;
  return { sql, params };
}

/** The statements of one epoch append, and which of them return the divergences' ids. */
function epochStatements({ record, divergences }: EpochAppend, at: number): { statements: SqlStatement[]; divergenceAt: number[] } {
  const statements: SqlStatement[] = [epochInsert(record, at)];
  const divergenceAt: number[] = [];
  for (const { divergence, deltas } of divergences) {
    const { kind, detail } = splitDivergence(divergence);
    divergenceAt.push(statements.length);
    statements.push(
      {
        sql: `INSERT INTO divergences (computation_id, epoch, vm_id, kind, summary, page_count, detail, at)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
        params: [divergence.computationId, divergence.epoch, divergence.vmId, kind, divergence.summary, divergence.pageCount, detail, at],
      },
      ...insertRows({
        into: 'page_deltas (divergence_id, page, delta)',
        leading: [lastId('divergences')],
        rows: deltas.map(({ page, delta }) => [page, delta]),
      }),
    );
  }
  return { statements, divergenceAt };
}
