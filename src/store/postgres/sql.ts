// Building statements for the PostgreSQL store: multi-row inserts, so a batch of rows costs one
// statement instead of one per row.

import type { SqlStatement, SqlValue } from '../rows/sql.js';

/** Rows per statement: far below PostgreSQL's 65535 bind parameters for any table here. */
const ROWS_PER_STATEMENT = 1000;

export interface RowsInsert {
  /** `table (col, col…)`; the leading columns take `leading`, the rest one parameter each. */
  readonly into: string;
  /** SQL expressions for the leading columns, the same in every row (e.g. the id just assigned). */
  readonly leading?: readonly string[];
  /** SQL appended after the VALUES lists, e.g. `ON CONFLICT DO NOTHING`. */
  readonly suffix?: string;
  readonly rows: readonly (readonly SqlValue[])[];
}

/** INSERT statements for the rows, in chunks; none when there are no rows. */
export function insertRows({ into, leading = [], suffix = '', rows }: RowsInsert): SqlStatement[] {
  const statements: SqlStatement[] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT);
    const params: SqlValue[] = [];
    statements.push({ sql: `INSERT INTO ${into} VALUES ${valuesList(chunk, params, leading)} ${suffix}`.trimEnd(), params });
  }
  return statements;
}

/** `(…), (…)` for a VALUES clause: appends the rows' values to `params` and refers to them. */
export function valuesList(rows: readonly (readonly SqlValue[])[], params: SqlValue[], leading: readonly string[] = []): string {
  return rows
    .map((row) => {
      const placeholders = row.map((value) => {
        params.push(value);
        return `$${params.length}`;
      });
      return `(${[...leading, ...placeholders].join(', ')})`;
    })
    .join(', ');
}

/** The id an identity column assigned most recently in this session (PostgreSQL's currval). */
export function lastId(table: string): string {
  return `currval(pg_get_serial_sequence('${table}', 'id'))`;
}
