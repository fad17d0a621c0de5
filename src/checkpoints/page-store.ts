// Checkpoints over content-addressed pages. A checkpoint is an epoch, a page table, registers,
// driver state and a root digest; its pages are stored once per content, and its page table is
// derived from its parent's by copy-on-write, so checkpoints and forks cost what changed.
// The page tables live in memory, built lazily per computation from the persistent store.

import type { RestoreTarget, SnapshotDelta, StateDigest } from '../drivers/types.js';
import { CheckpointNotFoundError } from '../store/errors.js';
import type { CheckpointRecord, CheckpointRepository, PageContent, PageTableEntry } from '../store/types.js';
import { ContentKeys, contentKey } from './content-keys.js';
import { CheckpointCorruptError, CheckpointNotRestorableError, PageOutOfRangeError, PageSizeError } from './errors.js';
import { PageTable } from './page-table.js';
import { RootDigester } from './root-digest.js';

export type CheckpointId = string;

export interface Checkpoint extends CheckpointRecord {
  /** Page-table rows that differ from the parent's (every non-zero page without a parent). */
  readonly changedPages: number;
}

/** A read-only view of a checkpoint's full state; it shares the page table, so it costs nothing. */
export interface CheckpointView {
  readonly checkpoint: Checkpoint;
  /** Full page contents; pages never written read as zeros. */
  readPage(page: number): Uint8Array;
}

interface Entry {
  checkpoint: Checkpoint;
  readonly table: PageTable;
}

export class CheckpointStore {
  private readonly keys = new ContentKeys();
  private readonly digester = new RootDigester(this.keys);
  private readonly entries = new Map<CheckpointId, Entry>();
  /** Checkpoints of each loaded computation, in creation order. */
  private readonly byComputation = new Map<string, Entry[]>();

  constructor(private readonly repository: CheckpointRepository) {}

  /**
   * Stores the state `delta` describes: `parent`'s state (empty without one) with `delta.changed`
   * applied. Only pages whose content is not stored yet are written. `digest` is the driver's
   * digest of that state, which a restore to the checkpoint checks against.
   */
  create(computationId: string, delta: SnapshotDelta, parent?: CheckpointId, digest?: StateDigest): Checkpoint {
    const checkpoints = this.loadComputation(computationId);
    const base = parent === undefined ? null : this.require(parent);
    if (base !== null && base.checkpoint.pageSize !== delta.pageSize) {
      throw new PageSizeError(base.checkpoint.pageSize, delta.pageSize);
    }
    const baseTable = base?.table ?? PageTable.empty();
    const rows: PageTableEntry[] = [];
    const changes: [number, number][] = [];
    const pages: PageContent[] = [];
    const written = new Map<string, number>();
    for (const [page, bytes] of delta.changed) {
      if (page < 0 || page >= delta.pageCount) throw new PageOutOfRangeError('being created', page, delta.pageCount);
      if (bytes.length !== delta.pageSize) throw new PageSizeError(delta.pageSize, bytes.length);
      const key = contentKey(bytes);
      const id = this.keys.intern(key);
      if (key !== null && !this.keys.isStored(key) && !written.has(key)) {
        written.set(key, id);
        pages.push({ key, bytes });
      }
      // Pages past the base's end read as zero pages, so a zero page there is no change either.
      if (baseTable.get(page) === id) continue;
      rows.push({ page, key });
      changes.push([page, id]);
    }
    const table = baseTable.with(delta.pageCount, changes);
    const record = this.repository.save(
      {
        computationId,
        parentId: parent ?? null,
        epoch: delta.epoch,
        pageSize: delta.pageSize,
        pageCount: delta.pageCount,
        registers: delta.registers,
        driverState: delta.driverState,
        rootDigest: this.digester.digest(table, delta.pageSize, delta.registers),
        digest: digest ?? null,
      },
      rows,
      pages,
    );
    for (const id of written.values()) this.keys.markStored(id);
    const entry = { checkpoint: { ...record, changedPages: rows.length }, table };
    this.entries.set(record.id, entry);
    checkpoints.push(entry);
    return entry.checkpoint;
  }

  markVerified(id: CheckpointId): Checkpoint {
    const entry = this.require(id);
    this.repository.markVerified(id);
    entry.checkpoint = { ...entry.checkpoint, verified: true };
    return entry.checkpoint;
  }

  /** The most recently created verified checkpoint of the computation: where a rollback goes. */
  lastVerified(computationId: string): Checkpoint | null {
    const checkpoints = this.loadComputation(computationId);
    for (let i = checkpoints.length - 1; i >= 0; i--) {
      const checkpoint = checkpoints[i]?.checkpoint;
      if (checkpoint?.verified) return checkpoint;
    }
    return null;
  }

  readPage(id: CheckpointId, page: number): Uint8Array {
    return this.fork(id).readPage(page);
  }

  get(id: CheckpointId): Checkpoint | null {
    return this.find(id)?.checkpoint ?? null;
  }

  /** In creation order. */
  list(computationId: string): Checkpoint[] {
    return this.loadComputation(computationId).map((entry) => entry.checkpoint);
  }

  fork(id: CheckpointId): CheckpointView {
    const { checkpoint, table } = this.require(id);
    return {
      checkpoint,
      readPage: (page) => {
        if (page < 0 || page >= table.pageCount) throw new PageOutOfRangeError(id, page, table.pageCount);
        const key = this.keys.key(table.get(page));
        if (key === null) return new Uint8Array(checkpoint.pageSize);
        const bytes = this.repository.readPage(key);
        if (bytes === null) throw new CheckpointCorruptError(id, `page ${page} (${key}) is missing`);
        return bytes;
      },
    };
  }

  /** What a driver needs to restore a VM to the checkpoint. */
  restoreTarget(id: CheckpointId): RestoreTarget {
    const view = this.fork(id);
    const { epoch, digest, driverState } = view.checkpoint;
    if (digest === null) throw new CheckpointNotRestorableError(id);
    return { epoch, digest, driverState, readPage: view.readPage };
  }

  private find(id: CheckpointId): Entry | null {
    const known = this.entries.get(id);
    if (known !== undefined) return known;
    const record = this.repository.get(id);
    if (record === null) return null;
    this.loadComputation(record.computationId);
    return this.entries.get(id) ?? null;
  }

  private require(id: CheckpointId): Entry {
    const entry = this.find(id);
    if (entry === null) throw new CheckpointNotFoundError(id);
    return entry;
  }

  /** The computation's checkpoints, rebuilding their page tables on first use (root digests checked). */
  private loadComputation(computationId: string): Entry[] {
    const loaded = this.byComputation.get(computationId);
    if (loaded !== undefined) return loaded;
    const checkpoints: Entry[] = [];
    for (const record of this.repository.list(computationId)) {
      const base = record.parentId === null ? null : this.find(record.parentId);
      if (record.parentId !== null && base === null) {
        throw new CheckpointCorruptError(record.id, `parent ${record.parentId} is missing`);
      }
      const rows = this.repository.entries(record.id);
      const changes = rows.map(({ page, key }): [number, number] => {
        const id = this.keys.intern(key);
        this.keys.markStored(id);
        return [page, id];
      });
      const table = (base?.table ?? PageTable.empty()).with(record.pageCount, changes);
      if (this.digester.digest(table, record.pageSize, record.registers) !== record.rootDigest) {
        throw new CheckpointCorruptError(record.id, 'its pages do not match its root digest');
      }
      const entry = { checkpoint: { ...record, changedPages: rows.length }, table };
      this.entries.set(record.id, entry);
      checkpoints.push(entry);
    }
    // Registered only when complete, so a damaged computation fails again on every use.
    this.byComputation.set(computationId, checkpoints);
    return checkpoints;
  }
}
