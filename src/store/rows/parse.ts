// The edge between the database and typed code: every row and JSON column read back is checked
// against the shape the store wrote, so a damaged or foreign file fails with StoreCorruptError
// instead of leaking malformed values into the rest of the system.

import { z } from 'zod';
import { StoreCorruptError } from '../errors.js';
import type { EpochRange, Json } from '../types.js';

export const stringRecord = z.record(z.string(), z.string());
export const numberRecord = z.record(z.string(), z.number());

export const jsonSchema: z.ZodType<Json> = z.json();

/** Both databases return BLOBs (BYTEA) as Buffers; callers get plain Uint8Array views of them (no copy). */
export const bytes = z.instanceof(Uint8Array).transform((blob) => new Uint8Array(blob.buffer, blob.byteOffset, blob.length));

/** Integer columns holding 0/1. */
export const flag = z.union([z.literal(0), z.literal(1)]).transform((value) => value === 1);

export function parseRow<T>(schema: z.ZodType<T>, row: unknown, what: string): T {
  const parsed = schema.safeParse(row);
  if (!parsed.success) throw new StoreCorruptError(what);
  return parsed.data;
}

export function parseJson<T>(text: string, schema: z.ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StoreCorruptError(what);
  }
  return parseRow(schema, value, what);
}

/** An epoch range as inclusive SQL bounds, open sides widened to every epoch. */
export function epochBounds(range: EpochRange): { from: number; to: number } {
  return { from: range.from ?? Number.MIN_SAFE_INTEGER, to: range.to ?? Number.MAX_SAFE_INTEGER };
}

const versionRow = z.object({ version: z.number() });

/** The schema versions recorded in schema_migrations, from its `version` rows. */
export function appliedVersions(rows: readonly unknown[]): Set<number> {
  return new Set(rows.map((row) => parseRow(versionRow, row, 'schema version').version));
}

const nameRow = z.object({ name: z.string() });

/** Table names from rows of `name`. */
export function tableNames(rows: readonly unknown[]): string[] {
  return rows.map((row) => parseRow(nameRow, row, 'table list').name);
}

const idRow = z.object({ id: z.number() });

/** The `id` a statement RETURNed. */
export function toId(row: unknown, what: string): number {
  return parseRow(idRow, row, what).id;
}
