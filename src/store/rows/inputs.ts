// Input log rows as both stores read them back.

import { z } from 'zod';
import type { InputRecord } from '../../drivers/types.js';
import { bytes, parseRow } from './parse.js';
import type { SqlStatement } from './sql.js';

/** Records read when the caller gives no limit. */
export const DEFAULT_READ = 1000;

const inputRow = z.object({ seq: z.number(), epoch: z.number(), kind: z.string(), payload: bytes });

export function toInput(row: unknown, computationId: string): InputRecord {
  return parseRow(inputRow, row, `input of ${computationId}`);
}

/** The length of a computation's input log: seq runs 0, 1, 2… without gaps, so the next seq is the count. */
export function selectInputCount(computationId: string): SqlStatement {
  return { sql: 'SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM inputs WHERE computation_id = $1', params: [computationId] };
}

const countRow = z.object({ n: z.number() });

export function toInputCount(row: unknown): number {
  return parseRow(countRow, row, 'input count').n;
}
