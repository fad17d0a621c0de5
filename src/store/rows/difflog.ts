// The differential log, implemented once for both stores: epochs with every VM's metrics,
// divergences (their kind-specific detail as JSON) with page deltas, the vote's verdicts, and
// the log's statistics. Only writing an epoch's records in one transaction differs by database
// (sqlite/difflog.ts, postgres/difflog.ts); every other statement runs on both as written.

import { z } from 'zod';
import type {
  Divergence,
  DivergenceDetail,
  DivergenceId,
  EpochRecord,
  PageDelta,
  VerdictId,
  VerdictRecord,
  VerdictResolution,
} from '../../difflog/types.js';
import type { EpochMetrics } from '../../drivers/types.js';
import { ComputationNotFoundError, VerdictNotFoundError } from '../errors.js';
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
  StoredVerdict,
  Timestamp,
} from '../types.js';
import { bytes, epochBounds, flag, numberRecord, parseJson, parseRow } from './parse.js';
import { type SqlRunner, type SqlStatement, type SqlValue, updateOnce } from './sql.js';

/** Writes everything one epoch resolution logged, in one transaction, and returns the ids it assigned. */
export type EpochWriter = (batch: EpochAppend) => AppendedEpoch;

export class SqlDiffLog implements DiffLogRepository {
  constructor(
    private readonly db: SqlRunner,
    private readonly write: EpochWriter,
  ) {}

  appendEpoch(batch: EpochAppend): AppendedEpoch {
    return this.db.withReference(
      () => this.write(batch),
      () => new ComputationNotFoundError(batch.record.computationId),
    );
  }

  readEpochs(computationId: string, range: EpochRange = {}): StoredEpochRecord[] {
    return toEpochRecords(this.db.query(selectEpochs(computationId, range)));
  }

  readDivergences(computationId: string, query: DivergenceQuery = {}): Paged<StoredDivergence> {
    const limit = pageLimit(query);
    // One row more than the page: it tells whether a next page exists.
    const rows = this.db.query(selectDivergences(computationId, query, limit + 1));
    const items = rows.slice(0, limit).map(toDivergence);
    const last = items[items.length - 1];
    return { items, next: rows.length > limit && last !== undefined ? last.id : null };
  }

  readPageDeltas(divergenceId: DivergenceId): PageDelta[] {
    return this.db.query(selectPageDeltas(divergenceId)).map((row) => toPageDelta(row, divergenceId));
  }

  readVerdicts(computationId: string, range: EpochRange = {}): StoredVerdict[] {
    return this.db.query(selectVerdicts(computationId, range)).map(toVerdict);
  }

  resolveVerdict(id: VerdictId, resolution: VerdictResolution): void {
    updateOnce(this.db.query, updateVerdictResolution(id, resolution), selectVerdictId(id), () => new VerdictNotFoundError(id));
  }

  stats(computationId: string): LogStats {
    return toLogStats(this.db.query(selectLogStats(computationId))[0]);
  }
}

// ---- epochs -------------------------------------------------------------------------------------

/** Inserts an epoch row (its metrics go separately) and RETURNs its id. */
export function insertEpoch(record: EpochRecord, at: Timestamp): SqlStatement {
  return {
    sql: 'INSERT INTO epochs (computation_id, epoch, attempt, verified, at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    params: [record.computationId, record.epoch, record.attempt, record.verified ? 1 : 0, at],
  };
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

/** Epoch rows joined with their metrics, one row per epoch and VM, in the order they were logged. */
function selectEpochs(computationId: string, range: EpochRange): SqlStatement {
  const { from, to } = epochBounds(range);
  return {
    sql: `SELECT e.id, e.computation_id, e.epoch, e.attempt, e.verified, e.at, m.vm_id, m.instructions, m.run_ms,
                 m.digest_ms, m.memory_bytes, m.syscalls, m.extra
          FROM epochs e LEFT JOIN epoch_metrics m ON m.epoch_id = e.id
          WHERE e.computation_id = $1 AND e.epoch >= $2 AND e.epoch <= $3
          ORDER BY e.id, m.vm_id`,
    params: [computationId, from, to],
  };
}

const epochMetricsRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  epoch: z.number(),
  attempt: z.number(),
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

/** The rows of selectEpochs as records, each epoch with the metrics of every VM. */
function toEpochRecords(rows: readonly unknown[]): StoredEpochRecord[] {
  const records: StoredEpochRecord[] = [];
  let current: { id: number; metrics: Record<string, EpochMetrics> } | null = null;
  for (const row of rows) {
    const r = parseRow(epochMetricsRow, row, 'epoch record');
    if (current === null || current.id !== r.id) {
      current = { id: r.id, metrics: {} };
      records.push({
        computationId: r.computation_id,
        epoch: r.epoch,
        attempt: r.attempt,
        verified: r.verified,
        at: r.at,
        metrics: current.metrics,
      });
    }
    if (r.vm_id !== null) current.metrics[r.vm_id] = toMetrics(r);
  }
  return records;
}

// ---- divergences and page deltas ----------------------------------------------------------------

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/**
 * The peer of a divergence logged before schema 3 whose computation has no primary VM on record
 * (migration 3 derives it otherwise): no VM has an empty id, so it names none.
 */
const UNKNOWN_PEER_VM_ID = '';

/** Inserts a divergence and RETURNs its id. */
export function insertDivergence(divergence: Divergence, at: Timestamp): SqlStatement {
  const { computationId, epoch, attempt, vmId, peerVmId, summary, pageCount, kind, ...detail } = divergence;
  return {
    sql: `INSERT INTO divergences (computation_id, epoch, attempt, vm_id, peer_vm_id, kind, summary, page_count, detail, at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
    params: [computationId, epoch, attempt, vmId, peerVmId, kind, summary, pageCount, JSON.stringify(detail), at],
  };
}

/** The page size a divergence query asks for, clamped to what one read may return. */
function pageLimit(query: DivergenceQuery): number {
  return Math.min(Math.max(query.limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
}

function selectDivergences(computationId: string, query: DivergenceQuery, limit: number): SqlStatement {
  const { from, to } = epochBounds(query);
  return {
    sql: `SELECT * FROM divergences WHERE computation_id = $1 AND epoch >= $2 AND epoch <= $3 AND id > $4
          ORDER BY id LIMIT $5`,
    params: [computationId, from, to, query.after ?? 0, limit],
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
  attempt: z.number(),
  vm_id: z.string(),
  peer_vm_id: z.string().nullable(),
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
    attempt: r.attempt,
    vmId: r.vm_id,
    peerVmId: r.peer_vm_id ?? UNKNOWN_PEER_VM_ID,
    summary: r.summary,
    pageCount: r.page_count,
    ...detail,
  };
}

function selectPageDeltas(divergenceId: DivergenceId): SqlStatement {
  return { sql: 'SELECT * FROM page_deltas WHERE divergence_id = $1 ORDER BY page', params: [divergenceId] };
}

const pageDeltaRow = z.object({ divergence_id: z.number(), page: z.number(), delta: bytes });

function toPageDelta(row: unknown, divergenceId: DivergenceId): PageDelta {
  const r = parseRow(pageDeltaRow, row, `page delta of divergence ${divergenceId}`);
  return { divergenceId: r.divergence_id, page: r.page, delta: r.delta };
}

// ---- verdicts -----------------------------------------------------------------------------------

/** Inserts a verdict, unresolved, and RETURNs its id. */
export function insertVerdict(verdict: Omit<VerdictRecord, 'resolution'>, at: Timestamp): SqlStatement {
  return {
    sql: `INSERT INTO verdicts (computation_id, epoch, attempt, kind, blamed, majority, differing, resolution, at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8) RETURNING id`,
    params: [
      verdict.computationId,
      verdict.epoch,
      verdict.attempt,
      verdict.kind,
      JSON.stringify(verdict.blamed),
      JSON.stringify(verdict.majority),
      JSON.stringify(verdict.differing),
      at,
    ],
  };
}

function selectVerdicts(computationId: string, range: EpochRange): SqlStatement {
  const { from, to } = epochBounds(range);
  return {
    sql: 'SELECT * FROM verdicts WHERE computation_id = $1 AND epoch >= $2 AND epoch <= $3 ORDER BY id',
    params: [computationId, from, to],
  };
}

/** Settles a verdict unless it is settled already (see updateOnce). */
function updateVerdictResolution(id: VerdictId, resolution: VerdictResolution): SqlStatement {
  return {
    sql: 'UPDATE verdicts SET resolution = $2 WHERE id = $1 AND resolution IS NULL RETURNING id',
    params: [id, JSON.stringify({ attempt: resolution.attempt, kind: resolution.kind, blamed: resolution.blamed })],
  };
}

function selectVerdictId(id: VerdictId): SqlStatement {
  return { sql: 'SELECT id FROM verdicts WHERE id = $1', params: [id] };
}

const vmIds = z.array(z.string());

const resolutionSchema: z.ZodType<VerdictResolution> = z.object({
  attempt: z.number(),
  kind: z.enum(['blamed', 'transient', 'dropped']),
  blamed: vmIds,
});

const verdictRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  epoch: z.number(),
  attempt: z.number(),
  kind: z.enum(['shadows-diverged', 'primary-diverged', 'undecided']),
  blamed: z.string(),
  majority: z.string(),
  differing: z.string(),
  resolution: z.string().nullable(),
  at: z.number(),
});

function toVerdict(row: unknown): StoredVerdict {
  const r = parseRow(verdictRow, row, 'verdict');
  const what = `verdict ${r.id}`;
  return {
    id: r.id,
    at: r.at,
    computationId: r.computation_id,
    epoch: r.epoch,
    attempt: r.attempt,
    kind: r.kind,
    blamed: parseJson(r.blamed, vmIds, `blamed VMs of ${what}`),
    majority: parseJson(r.majority, vmIds, `majority of ${what}`),
    differing: parseJson(r.differing, vmIds, `differing VMs of ${what}`),
    resolution: r.resolution === null ? null : parseJson(r.resolution, resolutionSchema, `resolution of ${what}`),
  };
}

// ---- statistics ---------------------------------------------------------------------------------

/**
 * What the log holds for a computation. Payload sizes: 8 bytes per numeric column, the length of
 * each text and blob; a verdict counts with the divergences it judges.
 */
function selectLogStats(computationId: string): SqlStatement {
  return {
    sql: `SELECT
      (SELECT COUNT(*) FROM epochs WHERE computation_id = $1) AS epochs,
      (SELECT COUNT(*) FROM divergences WHERE computation_id = $1) AS divergences,
      (SELECT COUNT(*) FROM page_deltas pd JOIN divergences d ON d.id = pd.divergence_id
         WHERE d.computation_id = $1) AS page_deltas,
      (SELECT COUNT(*) * 40 FROM epochs WHERE computation_id = $1)
        + (SELECT COALESCE(SUM(48 + LENGTH(m.vm_id) + COALESCE(LENGTH(m.extra), 0)), 0)
           FROM epoch_metrics m JOIN epochs e ON e.id = m.epoch_id WHERE e.computation_id = $1)
        AS metrics_bytes,
      (SELECT COALESCE(SUM(40 + LENGTH(vm_id) + COALESCE(LENGTH(peer_vm_id), 0) + LENGTH(kind) + LENGTH(summary)
           + LENGTH(detail)), 0)
         FROM divergences WHERE computation_id = $1)
        + (SELECT COALESCE(SUM(32 + LENGTH(kind) + LENGTH(blamed) + LENGTH(majority) + LENGTH(differing)
             + COALESCE(LENGTH(resolution), 0)), 0)
           FROM verdicts WHERE computation_id = $1)
        AS divergence_bytes,
      (SELECT COALESCE(SUM(16 + LENGTH(pd.delta)), 0) FROM page_deltas pd
         JOIN divergences d ON d.id = pd.divergence_id WHERE d.computation_id = $1) AS delta_bytes,
      (SELECT COALESCE(SUM(m.memory_bytes), 0) FROM epoch_metrics m JOIN epochs e ON e.id = m.epoch_id
         WHERE e.computation_id = $1) AS full_capture_bytes`,
    params: [computationId],
  };
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

function toLogStats(row: unknown): LogStats {
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
