// Checkpoints, their page-table rows and content-addressed pages in SQLite. A checkpoint stores
// only the rows that differ from its parent; a page's bytes are stored once per content key.

import type Database from 'better-sqlite3';
import { z } from 'zod';
import { CheckpointNotFoundError, ComputationNotFoundError } from '../errors.js';
import { digestColumns, selectPageStats, toCheckpoint, toPageBytes, toPageStats, toPageTableEntry } from '../rows/checkpoints.js';
import { newCheckpointId } from '../rows/ids.js';
import { parseRow } from '../rows/parse.js';
import type { CheckpointRecord, CheckpointRepository, NewCheckpoint, PageContent, PageTableEntry } from '../types.js';
import { withReference } from './errors.js';
import type { SqliteRunner } from './runner.js';

const seqRow = z.object({ seq: z.number() });

export class SqliteCheckpoints implements CheckpointRepository {
  private readonly insertStmt: Database.Statement;
  private readonly nextSeqStmt: Database.Statement;
  private readonly insertEntryStmt: Database.Statement;
  private readonly insertPageStmt: Database.Statement;
  private readonly getStmt: Database.Statement;
  private readonly listStmt: Database.Statement;
  private readonly entriesStmt: Database.Statement;
  private readonly verifyStmt: Database.Statement;
  private readonly pageStmt: Database.Statement;
  private readonly saveTx: (c: NewCheckpoint, e: readonly PageTableEntry[], p: readonly PageContent[]) => string;

  constructor(
    db: Database.Database,
    private readonly runner: SqliteRunner,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO checkpoints (id, computation_id, parent_id, seq, epoch, page_size, page_count, registers,
         driver_state, root_digest, state_digest, page_hashes, verified, created_at)
       VALUES (@id, @computationId, @parentId, @seq, @epoch, @pageSize, @pageCount, @registers,
         @driverState, @rootDigest, @stateDigest, @pageHashes, 0, @at)`,
    );
    this.nextSeqStmt = db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM checkpoints WHERE computation_id = ?');
    this.insertEntryStmt = db.prepare('INSERT INTO checkpoint_pages (checkpoint_id, page, content_key) VALUES (?, ?, ?)');
    this.insertPageStmt = db.prepare('INSERT INTO pages (content_key, bytes) VALUES (?, ?) ON CONFLICT (content_key) DO NOTHING');
    this.getStmt = db.prepare('SELECT * FROM checkpoints WHERE id = ?');
    this.listStmt = db.prepare('SELECT * FROM checkpoints WHERE computation_id = ? ORDER BY seq');
    this.entriesStmt = db.prepare('SELECT page, content_key FROM checkpoint_pages WHERE checkpoint_id = ? ORDER BY page');
    this.verifyStmt = db.prepare('UPDATE checkpoints SET verified = 1 WHERE id = ?');
    this.pageStmt = db.prepare('SELECT bytes FROM pages WHERE content_key = ?');
    this.saveTx = db.transaction((checkpoint, entries, pages) => this.insert(checkpoint, entries, pages));
  }

  save(checkpoint: NewCheckpoint, entries: readonly PageTableEntry[], pages: readonly PageContent[]): CheckpointRecord {
    const id = withReference(
      () => this.saveTx(checkpoint, entries, pages),
      () =>
        checkpoint.parentId !== null && this.get(checkpoint.parentId) === null
          ? new CheckpointNotFoundError(checkpoint.parentId)
          : new ComputationNotFoundError(checkpoint.computationId),
    );
    return this.require(id);
  }

  private insert(checkpoint: NewCheckpoint, entries: readonly PageTableEntry[], pages: readonly PageContent[]): string {
    for (const { key, bytes: content } of pages) this.insertPageStmt.run(key, content);
    const id = newCheckpointId();
    const { seq } = parseRow(seqRow, this.nextSeqStmt.get(checkpoint.computationId), 'checkpoint sequence');
    this.insertStmt.run({
      id,
      computationId: checkpoint.computationId,
      parentId: checkpoint.parentId,
      seq,
      epoch: checkpoint.epoch,
      pageSize: checkpoint.pageSize,
      pageCount: checkpoint.pageCount,
      registers: JSON.stringify(checkpoint.registers),
      driverState: JSON.stringify(checkpoint.driverState),
      rootDigest: checkpoint.rootDigest,
      ...digestColumns(checkpoint.digest),
      at: Date.now(),
    });
    for (const { page, key } of entries) this.insertEntryStmt.run(id, page, key);
    return id;
  }

  get(id: string): CheckpointRecord | null {
    const row = this.getStmt.get(id);
    return row === undefined ? null : toCheckpoint(row);
  }

  list(computationId: string): CheckpointRecord[] {
    return this.listStmt.all(computationId).map(toCheckpoint);
  }

  entries(checkpointId: string): PageTableEntry[] {
    return this.entriesStmt.all(checkpointId).map((row) => toPageTableEntry(row, checkpointId));
  }

  markVerified(checkpointId: string): void {
    if (this.verifyStmt.run(checkpointId).changes === 0) throw new CheckpointNotFoundError(checkpointId);
  }

  readPage(key: string): Uint8Array | null {
    const row = this.pageStmt.get(key);
    return row === undefined ? null : toPageBytes(row, key);
  }

  pageStats(): { readonly pages: number; readonly bytes: number } {
    return toPageStats(this.runner.query(selectPageStats())[0]);
  }

  private require(id: string): CheckpointRecord {
    const checkpoint = this.get(id);
    if (checkpoint === null) throw new CheckpointNotFoundError(id);
    return checkpoint;
  }
}
