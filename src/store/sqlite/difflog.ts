// Writing one epoch's records in SQLite: one transaction on the connection, each row taking the
// id its parent row was just given.

import type Database from 'better-sqlite3';
import { type EpochWriter, insertDivergence, insertEpoch, insertVerdict, metricsRows } from '../rows/difflog.js';
import { toId } from '../rows/parse.js';
import type { AppendedEpoch, EpochAppend } from '../types.js';
import type { SqliteRunner } from './runner.js';

export function sqliteEpochWriter(db: Database.Database, runner: SqliteRunner): EpochWriter {
  const insertMetrics = db.prepare(
    `INSERT INTO epoch_metrics (epoch_id, vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertDelta = db.prepare('INSERT INTO page_deltas (divergence_id, page, delta) VALUES (?, ?, ?)');
  return db.transaction(({ record, divergences, verdict }: EpochAppend): AppendedEpoch => {
    const at = Date.now();
    const epochId = toId(runner.query(insertEpoch(record, at))[0], 'epoch id');
    for (const row of metricsRows(record.metrics)) insertMetrics.run(epochId, ...row);
    const divergenceIds = divergences.map(({ divergence, deltas }) => {
      const id = toId(runner.query(insertDivergence(divergence, at))[0], 'divergence id');
      for (const { page, delta } of deltas) insertDelta.run(id, page, delta);
      return id;
    });
    const verdictId = verdict === undefined ? null : toId(runner.query(insertVerdict(verdict, at))[0], 'verdict id');
    return { divergenceIds, verdictId };
  });
}
