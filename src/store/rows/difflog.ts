// Differential log rows as both stores write and read them: epochs with their metrics,
// divergences (kind-specific detail as JSON), page deltas, and the log's statistics.

import { z } from 'zod';
import type { Divergence, DivergenceDetail, DivergenceId, PageDelta } from '../../difflog/types.js';
import type { EpochMetrics } from '../../drivers/types.js';
import type { DivergenceQuery, LogStats, Paged, StoredDivergence, StoredEpochRecord } from '../types.js';
import { bytes, flag, numberRecord, parseJson, parseRow } from './parse.js';
import type { SqlValue } from './sql.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** Epoch rows joined with their metrics, one row per epoch and VM; $1 computation, $2 and $3 the epoch bounds. */
export const EPOCHS_SQL = `SELECT e.id, e.computation_id, e.epoch, e.verified, e.at, m.vm_id, m.instructions, m.run_ms,
         m.digest_ms, m.memory_bytes, m.syscalls, m.extra
  FROM epochs e LEFT JOIN epoch_metrics m ON m.epoch_id = e.id
  WHERE e.computation_id = $1 AND e.epoch >= $2 AND e.epoch <= $3
  ORDER BY e.id, m.vm_id`;

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

/** The rows of EPOCHS_SQL as records, each epoch with the metrics of every VM. */
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

/** A metrics map as epoch_metrics rows: vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra. */
export function metricsRows(metrics: Readonly<Record<string, EpochMetrics>>): SqlValue[][] {
  return Object.entries(metrics).map(([vmId, m]) => [
    vmId,
    m.instructions,
    m.runMs,
    m.digestMs,
    m.memoryBytes,
    m.syscalls,
    m.extra === undefined ? null : JSON.stringify(m.extra),
  ]);
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

const pageDeltaRow = z.object({ divergence_id: z.number(), page: z.number(), delta: bytes });

export function toPageDelta(row: unknown, divergenceId: DivergenceId): PageDelta {
  const r = parseRow(pageDeltaRow, row, `page delta of divergence ${divergenceId}`);
  return { divergenceId: r.divergence_id, page: r.page, delta: r.delta };
}

/** What the log holds for computation $1. Payload sizes: 8 bytes per numeric column, the length of each text and blob. */
export const LOG_STATS_SQL = `SELECT
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
