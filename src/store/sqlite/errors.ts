import Database from 'better-sqlite3';
import { referenceGuard } from '../rows/references.js';

export const withReference = referenceGuard(
  (error) => error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY',
);
