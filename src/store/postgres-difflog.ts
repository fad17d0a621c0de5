// The differential log in PostgreSQL. An epoch append is one transaction sent in one round trip
// from the caller: the rows that refer to a divergence take the id just assigned (currval), so no
// statement needs an earlier one's answer.

import { z } from 'zod';
import type { DivergenceId, EpochRecord, PageDelta } from '../difflog/types.js';
import { ComputationNotFoundError } from './errors.js';
import type { SqlStatement, SqlValue } from './postgres-channel.js';
import type { PostgresConnection } from './postgres-connection.js';
import { withReference } from './postgres-errors.js';
import { insertRows, lastId, valuesList } from './postgres-sql.js';
import { epochBounds, parseRow } from './rows.js';
import { pageDeltaRow, pageLimit, splitDivergence, toDivergencePage, toEpochRecords, toLogStats } from './sqlite-difflog.js';
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
} from './types.js';

const idRow = z.object({ id: z.number() });

/** Payload sizes: 8 bytes per numeric column, the length of each text and blob (as SQLite counts). */
const STATS_SQL = `SELECT
  (SELECT COUNT(*) FROM epochs WHERE computation_id = $1) AS epochs,
  (SELECT COUNT(*) FROM divergences WHERE computation_id = $1) AS divergences,
  (SELECT COUNT(*) FROM page_deltas pd JOIN divergences d ON d.id = pd.divergence_id
     WHERE d.computation_id = $1) AS page_deltas,
  (SELECT COUNT(*) * 32 FROM epochs WHERE computation_id = $1)
    + (SELECT COALESCE(SUM(48 + LENGTH(m.vm_id) + COALESCE(LENGTH(m.extra), 0)), 0)
       FROM epoch_metrics m JOIN epochs e ON e.id = m.epoch_id WHERE e.computation_id = $1)
    AS metrics_bytes,
  (SELECT COALESCE(SUM(32 + LENGTH(vm_id) + LENGTH(kind) + LENGTH(summary) + LENGTH(detail)), 0)
     FROM divergences WHERE computation_id = $1) AS divergence_bytes,
  (SELECT COALESCE(SUM(16 + LENGTH(pd.delta)), 0) FROM page_deltas pd
     JOIN divergences d ON d.id = pd.divergence_id WHERE d.computation_id = $1) AS delta_bytes,
  (SELECT COALESCE(SUM(m.memory_bytes), 0) FROM epoch_metrics m JOIN epochs e ON e.id = m.epoch_id
     WHERE e.computation_id = $1) AS full_capture_bytes`;

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
    return toEpochRecords(
      this.db.query(
        `SELECT e.id, e.computation_id, e.epoch, e.verified, e.at, m.vm_id, m.instructions, m.run_ms,
                m.digest_ms, m.memory_bytes, m.syscalls, m.extra
         FROM epochs e LEFT JOIN epoch_metrics m ON m.epoch_id = e.id
         WHERE e.computation_id = $1 AND e.epoch >= $2 AND e.epoch <= $3
         ORDER BY e.id, m.vm_id`,
        [computationId, from, to],
      ),
    );
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
    return this.db.query('SELECT * FROM page_deltas WHERE divergence_id = $1 ORDER BY page', [divergenceId]).map((row) => {
      const r = parseRow(pageDeltaRow, row, `page delta of divergence ${divergenceId}`);
      return { divergenceId: r.divergence_id, page: r.page, delta: r.delta };
    });
  }

  stats(computationId: string): LogStats {
    return toLogStats(this.db.query(STATS_SQL, [computationId])[0]);
  }
}

/**
 * The epoch row and its metrics rows as one statement: an epoch without divergences is then a
 * single statement, atomic on its own, and costs one round trip to the server.
 */
function epochInsert(record: EpochRecord, at: number): SqlStatement {
  const params: SqlValue[] = [record.computationId, record.epoch, record.verified ? 1 : 0, at];
  const epoch = 'INSERT INTO epochs (computation_id, epoch, verified, at) VALUES ($1, $2, $3, $4)';
  const metrics = Object.entries(record.metrics).map(([vmId, m]) => [
    vmId,
    m.instructions,
    m.runMs,
    m.digestMs,
    m.memoryBytes,
    m.syscalls,
    m.extra === undefined ? null : JSON.stringify(m.extra),
  ]);
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
