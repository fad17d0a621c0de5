import Database from 'better-sqlite3';

/** True when a write failed because a row it refers to (a computation, a checkpoint…) is missing. */
export function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** Runs a write, turning a missing referenced row into the caller's typed error. */
export function withReference<T>(write: () => T, missing: () => Error): T {
  try {
    return write();
  } catch (error) {
    if (isForeignKeyViolation(error)) throw missing();
    throw error;
  }
}
