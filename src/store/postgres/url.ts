// PostgreSQL connection URLs as the user gives them (--store postgres://…) and as they are shown
// back: messages and Store.location never carry the password.

import { ShadowvmError } from '../../errors.js';

/** True when a --store value names a PostgreSQL server rather than a SQLite file. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

export class PostgresUrlError extends ShadowvmError {
  constructor() {
    super('postgres-url', 'the PostgreSQL URL is malformed; use postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  }
}

/** The URL with its password replaced by ***, for messages and Store.location. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PostgresUrlError();
  }
  if (!isPostgresUrl(url)) throw new PostgresUrlError();
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
