// The differential log in SQLite: per-epoch records with every VM's metrics, divergences and
// their page deltas. An epoch's records are written in one transaction.

import type Database from 'better-sqlite3';
import type { DivergenceId, PageDelta } from '../../difflog/types.js';
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
import { epochBounds } from '../rows/parse.js';
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
import { numbered } from './bind.js';
import { withReference } from './errors.js';

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
    this.readEpochsStmt = db.prepare(EPOCHS_SQL);
    this.readDivergencesStmt = db.prepare(
      `SELECT * FROM divergences
       WHERE computation_id = ? AND epoch >= ? AND epoch <= ? AND id > ?
       ORDER BY id LIMIT ?`,
    );
    this.readDeltasStmt = db.prepare('SELECT * FROM page_deltas WHERE divergence_id = ? ORDER BY page');
    this.statsStmt = db.prepare(LOG_STATS_SQL);
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
    for (const row of metricsRows(record.metrics)) this.insertMetricsStmt.run(epochId, ...row);
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
    return toEpochRecords(this.readEpochsStmt.all(numbered([computationId, from, to])));
  }

  readDivergences(computationId: string, query: DivergenceQuery = {}): Paged<StoredDivergence> {
    const { from, to } = epochBounds(query);
    const limit = pageLimit(query);
    return toDivergencePage(this.readDivergencesStmt.all(computationId, from, to, query.after ?? 0, limit + 1), limit);
  }

  readPageDeltas(divergenceId: DivergenceId): PageDelta[] {
    return this.readDeltasStmt.all(divergenceId).map((row) => toPageDelta(row, divergenceId));
  }

  stats(computationId: string): LogStats {
    return toLogStats(this.statsStmt.get(numbered([computationId])));
  }
}
