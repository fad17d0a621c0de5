// Statements as both databases take them: SQL with $1, $2… placeholders and its parameters.
// PostgreSQL reads $n natively and SQLite binds them by number (sqlite/bind.ts), so a statement
// that needs no dialect of its own is written once, here or beside the rows it reads.

/** A statement parameter; byte arrays bind as BLOB (BYTEA). */
export type SqlValue = string | number | boolean | null | Uint8Array;

export interface SqlStatement {
  /** SQL with $1, $2… placeholders. */
  readonly sql: string;
  readonly params: readonly SqlValue[];
}
