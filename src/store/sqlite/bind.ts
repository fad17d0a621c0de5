// SQL shared with PostgreSQL (src/store/rows) has $1, $2… placeholders, which SQLite reads as
// the named parameters "1", "2"…: they bind from an object keyed by position.

import type { SqlValue } from '../rows/sql.js';

export function numbered(params: readonly SqlValue[]): Record<number, SqlValue> {
  return Object.fromEntries(params.map((value, i) => [i + 1, value]));
}
