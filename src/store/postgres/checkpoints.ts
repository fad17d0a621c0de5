// Checkpoints, their page-table rows and content-addressed pages in PostgreSQL. A save is one
// transaction in one round trip: pages (skipping stored keys), the checkpoint with the next seq of
// its computation, then its page-table rows.

import { CheckpointNotFoundError, ComputationNotFoundError } from '../errors.js';
import { digestColumns, selectPageStats, toCheckpoint, toPageBytes, toPageStats, toPageTableEntry } from '../rows/checkpoints.js';
import { newCheckpointId } from '../rows/ids.js';
import type { SqlRunner } from '../rows/sql.js';
import type { CheckpointRecord, CheckpointRepository, NewCheckpoint, PageContent, PageTableEntry } from '../types.js';
import type { PostgresConnection } from './connection.js';
import { withReference } from './errors.js';
import { insertRows } from './sql.js';

export class PostgresCheckpoints implements CheckpointRepository {
  constructor(
    private readonly db: PostgresConnection,
    private readonly runner: SqlRunner,
  ) {}

  save(checkpoint: NewCheckpoint, entries: readonly PageTableEntry[], pages: readonly PageContent[]): CheckpointRecord {
    const id = newCheckpointId();
    const { stateDigest, pageHashes } = digestColumns(checkpoint.digest);
    const pageStatements = insertRows({
      into: 'pages (content_key, bytes)',
      suffix: 'ON CONFLICT (content_key) DO NOTHING',
      rows: pages.map(({ key, bytes }) => [key, bytes]),
    });
    const statements = [
      ...pageStatements,
      {
        sql: `INSERT INTO checkpoints (id, computation_id, parent_id, seq, epoch, page_size, page_count, registers,
                driver_state, root_digest, state_digest, page_hashes, verified, created_at)
              VALUES ($1, $2, $3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM checkpoints WHERE computation_id = $2),
                $4, $5, $6, $7, $8, $9, $10, $11, 0, $12)
              RETURNING *`,
        params: [
          id,
          checkpoint.computationId,
          checkpoint.parentId,
          checkpoint.epoch,
          checkpoint.pageSize,
          checkpoint.pageCount,
          JSON.stringify(checkpoint.registers),
          JSON.stringify(checkpoint.driverState),
          checkpoint.rootDigest,
          stateDigest,
          pageHashes,
          Date.now(),
        ],
      },
      ...insertRows({ into: 'checkpoint_pages (checkpoint_id, page, content_key)', rows: entries.map(({ page, key }) => [id, page, key]) }),
    ];
    const results = withReference(
      () => this.db.transaction(statements),
      () =>
        checkpoint.parentId !== null && this.get(checkpoint.parentId) === null
          ? new CheckpointNotFoundError(checkpoint.parentId)
          : new ComputationNotFoundError(checkpoint.computationId),
    );
    return toCheckpoint(results[pageStatements.length]?.[0]);
  }

  get(id: string): CheckpointRecord | null {
    const [row] = this.db.query('SELECT * FROM checkpoints WHERE id = $1', [id]);
    return row === undefined ? null : toCheckpoint(row);
  }

  list(computationId: string): CheckpointRecord[] {
    return this.db.query('SELECT * FROM checkpoints WHERE computation_id = $1 ORDER BY seq', [computationId]).map(toCheckpoint);
  }

  entries(checkpointId: string): PageTableEntry[] {
    return this.db
      .query('SELECT page, content_key FROM checkpoint_pages WHERE checkpoint_id = $1 ORDER BY page', [checkpointId])
      .map((row) => toPageTableEntry(row, checkpointId));
  }

  markVerified(checkpointId: string): void {
    const changed = this.db.query('UPDATE checkpoints SET verified = 1 WHERE id = $1 RETURNING id', [checkpointId]);
    if (changed.length === 0) throw new CheckpointNotFoundError(checkpointId);
  }

  readPage(key: string): Uint8Array | null {
    const [row] = this.db.query('SELECT bytes FROM pages WHERE content_key = $1', [key]);
    return row === undefined ? null : toPageBytes(row, key);
  }

  pageStats(): { readonly pages: number; readonly bytes: number } {
    return toPageStats(this.runner.query(selectPageStats())[0]);
  }
}
