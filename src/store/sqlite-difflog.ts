// The differential log in SQLite: per-epoch records with every VM's metrics, divergences and
// their page deltas. An epoch's records are written in one transaction.

import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Divergence, DivergenceDetail, DivergenceId, PageDelta } from '../difflog/types.js';
import type { EpochMetrics } from '../drivers/types.js';
import { ComputationNotFoundError } from './errors.js';
import { bytes, epochBounds, flag, numberRecord, parseJson, parseRow } from './rows.js';
import { withReference } from './sqlite-errors.js';
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

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

const epochMetricsRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  epoch: z.number(),
  verified: flag,
  at: z.number(),
  vm_id: z.string().nullable(),
  instructions: z.number().nullable(),
  run_ms: z.number().nullable(),
  digest_ms: z.number().nullable(),
  memory_bytes: z.number().nullable(),
  syscalls: z.number().nullable(),
  extra: z.string().nullable(),
});

function toMetrics(r: z.infer<typeof epochMetricsRow>): EpochMetrics {
  return {
    instructions: r.instructions ?? 0,
    runMs: r.run_ms ?? 0,
    digestMs: r.digest_ms ?? 0,
    memoryBytes: r.memory_bytes ?? 0,
    syscalls: r.syscalls ?? 0,
    ...(r.extra === null ? {} : { extra: parseJson(r.extra, numberRecord, `metrics of epoch ${r.epoch}`) }),
  };
}

/** The kind-specific part of a divergence, as stored in its `detail` column (with `kind` beside it). */
const detailSchema: z.ZodType<DivergenceDetail> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pages') }),
  z.object({
    kind: z.literal('registers'),
    registers: z.array(z.object({ name: z.string(), primary: z.string().nullable(), shadow: z.string().nullable() })),
  }),
  z.object({
    kind: z.literal('output'),
    outputs: z.array(z.object({ stream: z.string(), primary: z.string().nullable(), shadow: z.string().nullable() })),
  }),
  z.object({ kind: z.literal('exit'), primary: z.string(), shadow: z.string() }),
  z.object({ kind: z.literal('input'), expected: z.string(), got: z.string() }),
]);

const divergenceRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  epoch: z.number(),
  vm_id: z.string(),
  kind: z.string(),
  summary: z.string(),
  page_count: z.number(),
  detail: z.string(),
  at: z.number(),
});

function toDivergence(row: unknown): StoredDivergence {
  const r = parseRow(divergenceRow, row, 'divergence');
  const what = `divergence ${r.id}`;
  const detailJson = parseJson(r.detail, z.record(z.string(), z.unknown()), what);
  const detail = parseRow(detailSchema, { ...detailJson, kind: r.kind }, what);
  return {
    id: r.id,
    at: r.at,
    computationId: r.computation_id,
    epoch: r.epoch,
    vmId: r.vm_id,
    summary: r.summary,
    pageCount: r.page_count,
    ...detail,
  };
}

/** The columns a divergence shares with every kind, and the rest as its detail. */
export function splitDivergence(divergence: Divergence): { kind: string; detail: string } {
  const { computationId: _c, epoch: _e, vmId: _v, summary: _s, pageCount: _p, kind, ...detail } = divergence;
  return { kind, detail: JSON.stringify(detail) };
}

export const pageDeltaRow = z.object({ divergence_id: z.number(), page: z.number(), delta: bytes });

/**
 * Epoch rows joined with their metrics (one row per epoch and VM, ordered by epoch row id) as
 * records, each epoch with the metrics of every VM.
 */
export function toEpochRecords(rows: readonly unknown[]): StoredEpochRecord[] {
  const records: StoredEpochRecord[] = [];
  let current: { id: number; metrics: Record<string, EpochMetrics> } | null = null;
  for (const row of rows) {
    const r = parseRow(epochMetricsRow, row, 'epoch record');
    if (current === null || current.id !== r.id) {
      current = { id: r.id, metrics: {} };
      records.push({ computationId: r.computation_id, epoch: r.epoch, verified: r.verified, at: r.at, metrics: current.metrics });
    }
    if (r.vm_id !== null) current.metrics[r.vm_id] = toMetrics(r);
  }
  return records;
}

/** The page size a divergence query asks for, clamped to what one read may return. */
export function pageLimit(query: DivergenceQuery): number {
  return Math.min(Math.max(query.limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
}

/** Divergence rows fetched with one more than `limit` as a page; the extra row tells a next page exists. */
export function toDivergencePage(rows: readonly unknown[], limit: number): Paged<StoredDivergence> {
  const items = rows.slice(0, limit).map(toDivergence);
  const last = items[items.length - 1];
  return { items, next: rows.length > limit && last !== undefined ? last.id : null };
}

const statsRow = z.object({
  epochs: z.number(),
  divergences: z.number(),
  page_deltas: z.number(),
  metrics_bytes: z.number(),
  divergence_bytes: z.number(),
  delta_bytes: z.number(),
  full_capture_bytes: z.number(),
});

export function toLogStats(row: unknown): LogStats {
  const r = parseRow(statsRow, row, 'log statistics');
  return {
    epochs: r.epochs,
    divergences: r.divergences,
    pageDeltas: r.page_deltas,
    metricsBytes: r.metrics_bytes,
    divergenceBytes: r.divergence_bytes,
    deltaBytes: r.delta_bytes,
    bytesLogged: r.metrics_bytes + r.divergence_bytes + r.delta_bytes,
    fullCaptureBytes: r.full_capture_bytes,
  };
}

export class SqliteDiffLog implements DiffLogRepository {
  private readonly insertEpochStmt: Database.Statement;
  private readonly insertMetricsStmt: Database.Statement;
  private readonly insertDivergenceStmt: Database.Statement;
  private readonly insertDeltaStmt: Database.Statement;
  private readonly readEpochsStmt: Database.Statement;
  private readonly readDivergencesStmt: Database.Statement;
  private readonly readDeltasStmt: Database.Statement;
  private readonly statsStmt: Database.Statement;
  private readonly appendTx: (batch: EpochAppend) => AppendedEpoch;

  constructor(db: Database.Database) {
    this.insertEpochStmt = db.prepare('INSERT INTO epochs (computation_id, epoch, verified, at) VALUES (?, ?, ?, ?)');
    this.insertMetricsStmt = db.prepare(
      `INSERT INTO epoch_metrics (epoch_id, vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertDivergenceStmt = db.prepare(
      `INSERT INTO divergences (computation_id, epoch, vm_id, kind, summary, page_count, detail, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertDeltaStmt = db.prepare('INSERT INTO page_deltas (divergence_id, page, delta) VALUES (?, ?, ?)');
    this.readEpochsStmt = db.prepare(
      `SELECT e.id, e.computation_id, e.epoch, e.verified, e.at, m.vm_id, m.instructions, m.run_ms,
              m.digest_ms, m.memory_bytes, m.syscalls, m.extra
       FROM epochs e LEFT JOIN epoch_metrics m ON m.epoch_id = e.id
       WHERE e.computation_id = ? AND e.epoch >= ? AND e.epoch <= ?
       ORDER BY e.id, m.vm_id`,
    );
    this.readDivergencesStmt = db.prepare(
      `SELECT * FROM divergences
       WHERE computation_id = ? AND epoch >= ? AND epoch <= ? AND id > ?
       ORDER BY id LIMIT ?`,
    );
    this.readDeltasStmt = db.prepare('SELECT * FROM page_deltas WHERE divergence_id = ? ORDER BY page');
    // Payload sizes: 8 bytes per numeric column, the length of each text and blob.
    this.statsStmt = db.prepare(
      `SELECT
         (SELECT COUNT(*) FROM epochs WHERE computation_id = @c) AS epochs,
         (SELECT COUNT(*) FROM divergences WHERE computation_id = @c) AS divergences,
         (SELECT COUNT(*) FROM page_deltas pd JOIN divergences d ON d.id = pd.divergence_id
            WHERE d.computation_id = @c) AS page_deltas,
         (SELECT COUNT(*) * 32 FROM epochs WHERE computation_id = @c)
           + (SELECT COALESCE(SUM(48 + LENGTH(m.vm_id) + COALESCE(LENGTH(m.extra), 0)), 0)
              FROM epoch_metrics m JOIN epochs e ON e.id = m.epoch_id WHERE e.computation_id = @c)
           AS metrics_bytes,
         (SELECT COALESCE(SUM(32 + LENGTH(vm_id) + LENGTH(kind) + LENGTH(summary) + LENGTH(detail)), 0)
            FROM divergences WHERE computation_id = @c) AS divergence_bytes,
         (SELECT COALESCE(SUM(16 + LENGTH(pd.delta)), 0) FROM page_deltas pd
            JOIN divergences d ON d.id = pd.divergence_id WHERE d.computation_id = @c) AS delta_bytes,
         (SELECT COALESCE(SUM(m.memory_bytes), 0) FROM epoch_metrics m JOIN epochs e ON e.id = m.epoch_id
            WHERE e.computation_id = @c) AS full_capture_bytes`,
    );
    this.appendTx = db.transaction((batch: EpochAppend) => this.insertEpoch(batch));
  }

  appendEpoch(batch: EpochAppend): AppendedEpoch {
    return withReference(
      () => this.appendTx(batch),
      () => new ComputationNotFoundError(batch.record.computationId),
    );
  }

  private insertEpoch({ record, divergences }: EpochAppend): AppendedEpoch {
    const at = Date.now();
    const epochId = this.insertEpochStmt.run(record.computationId, record.epoch, record.verified ? 1 : 0, at).lastInsertRowid;
    for (const [vmId, m] of Object.entries(record.metrics)) {
      const extra = m.extra === undefined ? null : JSON.stringify(m.extra);
      this.insertMetricsStmt.run(epochId, vmId, m.instructions, m.runMs, m.digestMs, m.memoryBytes, m.syscalls, extra);
    }
    const divergenceIds = divergences.map(({ divergence, deltas }) => {
      const { kind, detail } = splitDivergence(divergence);
      const id = Number(
        this.insertDivergenceStmt.run(
          divergence.computationId,
          divergence.epoch,
          divergence.vmId,
          kind,
          divergence.summary,
          divergence.pageCount,
          detail,
          at,
        ).lastInsertRowid,
      );
      for (const { page, delta } of deltas) this.insertDeltaStmt.run(id, page, delta);
      return id;
    });
    return { divergenceIds };
  }

  readEpochs(computationId: string, range: EpochRange = {}): StoredEpochRecord[] {
    const { from, to } = epochBounds(range);
    return toEpochRecords(this.readEpochsStmt.all(computationId, from, to));
  }

  readDivergences(computationId: string, query: DivergenceQuery = {}): Paged<StoredDivergence> {
    const { from, to } = epochBounds(query);
    const limit = pageLimit(query);
    return toDivergencePage(this.readDivergencesStmt.all(computationId, from, to, query.after ?? 0, limit + 1), limit);
  }

  readPageDeltas(divergenceId: DivergenceId): PageDelta[] {
    return this.readDeltasStmt.all(divergenceId).map((row) => {
      const r = parseRow(pageDeltaRow, row, `page delta of divergence ${divergenceId}`);
      return { divergenceId: r.divergence_id, page: r.page, delta: r.delta };
    });
  }

  stats(computationId: string): LogStats {
    return toLogStats(this.statsStmt.get({ c: computationId }));
  }
}
