// Statements as both databases take them: SQL with $1, $2… placeholders and its parameters.
// PostgreSQL reads $n natively and SQLite binds them by number (sqlite/runner.ts), so a
// statement that needs no dialect of its own is written once, beside the rows it reads.

import type { WithReference } from './references.js';

/** A statement parameter; byte arrays bind as BLOB (BYTEA). */
export type SqlValue = string | number | boolean | null | Uint8Array;

export interface SqlStatement {
  /** SQL with $1, $2… placeholders. */
  readonly sql: string;
  readonly params: readonly SqlValue[];
}

/** Runs one statement on its own and returns its rows (none for a statement that returns none). */
export type Query = (statement: SqlStatement) => readonly unknown[];

/** A database as the code both stores share runs statements on it. */
export interface SqlRunner {
  readonly query: Query;
  /** Runs the statements in one transaction; each one's rows, in order. */
  transaction(statements: readonly SqlStatement[]): readonly (readonly unknown[])[];
  readonly withReference: WithReference;
}

/**
 * Runs an update that changes its row only the first time (it requires the columns it sets to be
 * still null, and RETURNs what it changed), so a second call keeps the first change; throws
 * `missing()` when `exists` finds no such row at all.
 */
export function updateOnce(query: Query, update: SqlStatement, exists: SqlStatement, missing: () => Error): void {
  if (query(update).length > 0) return;
  if (query(exists).length === 0) throw missing();
}
