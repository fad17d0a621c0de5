// Checkpoint rows and their state digest columns, as both stores write and read them.

import { z } from 'zod';
import type { StateDigest } from '../../drivers/types.js';
import type { CheckpointRecord, PageTableEntry } from '../types.js';
import { bytes, flag, parseJson, parseRow, stringRecord } from './parse.js';
import type { SqlStatement } from './sql.js';

const checkpointRow = z.object({
  id: z.string(),
  computation_id: z.string(),
  parent_id: z.string().nullable(),
  seq: z.number(),
  epoch: z.number(),
  page_size: z.number(),
  page_count: z.number(),
  registers: z.string(),
  driver_state: z.string(),
  root_digest: z.string(),
  state_digest: z.string().nullable(),
  page_hashes: bytes.nullable(),
  verified: flag,
  created_at: z.number(),
});

/** StateDigest minus its page hashes, which have their own BLOB column. */
const digestMetaSchema = z.object({ pageSize: z.number(), registers: stringRecord, outputs: stringRecord });

function toDigest(meta: string | null, pageHashes: Uint8Array | null, what: string): StateDigest | null {
  if (meta === null || pageHashes === null) return null;
  return { ...parseJson(meta, digestMetaSchema, what), pageHashes };
}

export function toCheckpoint(row: unknown): CheckpointRecord {
  const r = parseRow(checkpointRow, row, 'checkpoint');
  const what = `checkpoint ${r.id}`;
  return {
    id: r.id,
    computationId: r.computation_id,
    parentId: r.parent_id,
    seq: r.seq,
    epoch: r.epoch,
    pageSize: r.page_size,
    pageCount: r.page_count,
    registers: parseJson(r.registers, stringRecord, `registers of ${what}`),
    driverState: parseJson(r.driver_state, stringRecord, `driver state of ${what}`),
    rootDigest: r.root_digest,
    digest: toDigest(r.state_digest, r.page_hashes, `digest of ${what}`),
    verified: r.verified,
    createdAt: r.created_at,
  };
}

/** A state digest as its two columns: the JSON metadata and the page hashes (both null when absent). */
export function digestColumns(digest: StateDigest | null): { stateDigest: string | null; pageHashes: Uint8Array | null } {
  if (digest === null) return { stateDigest: null, pageHashes: null };
  return {
    stateDigest: JSON.stringify({ pageSize: digest.pageSize, registers: digest.registers, outputs: digest.outputs }),
    pageHashes: digest.pageHashes,
  };
}

const entryRow = z.object({ page: z.number(), content_key: z.string().nullable() });

export function toPageTableEntry(row: unknown, checkpointId: string): PageTableEntry {
  const r = parseRow(entryRow, row, `page table of checkpoint ${checkpointId}`);
  return { page: r.page, key: r.content_key };
}

const pageRow = z.object({ bytes });

/** The content of a stored page, from its `bytes` row. */
export function toPageBytes(row: unknown, key: string): Uint8Array {
  return parseRow(pageRow, row, `page ${key}`).bytes;
}

/** Distinct pages stored and their bytes, over all computations. */
export function selectPageStats(): SqlStatement {
  return { sql: 'SELECT COUNT(*) AS pages, COALESCE(SUM(LENGTH(bytes)), 0) AS bytes FROM pages', params: [] };
}

const pageStatsRow = z.object({ pages: z.number(), bytes: z.number() });

export function toPageStats(row: unknown): { readonly pages: number; readonly bytes: number } {
  return parseRow(pageStatsRow, row, 'page statistics');
}
