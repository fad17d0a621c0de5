// Opening the store a location names: a postgres:// (or postgresql://) URL is a PostgreSQL
// server, anything else a SQLite file path; no location is the embedded default database.

import { openPostgresStore } from './postgres/store.js';
import { isPostgresUrl } from './postgres/url.js';
import { openSqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

export function openStore(location?: string): Store {
  if (location === undefined) return openSqliteStore();
  return isPostgresUrl(location) ? openPostgresStore({ url: location }) : openSqliteStore({ path: location });
}
