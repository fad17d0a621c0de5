// The SQLite store: opens (or creates) the database file, makes sure it is a shadowvm database
// this code understands, applies pending migrations, and hands out the repositories.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { NotAShadowvmDatabaseError, StoreOpenError } from '../errors.js';
import { type ColumnTypes, LATEST_SCHEMA_VERSION, migrationsTable, pendingMigrations } from '../migrations.js';
import { SqlAudit } from '../rows/audit.js';
import { SqlDiffLog } from '../rows/difflog.js';
import { appliedVersions, tableNames } from '../rows/parse.js';
import type { LogStats, Store } from '../types.js';
import { SqliteCheckpoints } from './checkpoints.js';
import { SqliteComputations, SqliteVms } from './computations.js';
import { sqliteEpochWriter } from './difflog.js';
import { SqliteInputs } from './inputs.js';
import { SqliteRunner } from './runner.js';

/** Where the database lives when no path is given, relative to the working directory. */
export const DEFAULT_DB_PATH = '.shadowvm/shadowvm.db';

/** SQLite's names for the migrations' column types. */
export const SQLITE_TYPES: ColumnTypes = {
  autoId: 'INTEGER PRIMARY KEY',
  int: 'INTEGER',
  real: 'REAL',
  text: 'TEXT',
  blob: 'BLOB',
};

/** Marks the file as ours in the SQLite header ("SVM1"), so foreign databases are recognised. */
const APPLICATION_ID = 0x53564d31;

export interface SqliteStoreOptions {
  /** Database file; relative paths resolve against `cwd`. ':memory:' for a throwaway store. */
  readonly path?: string;
  readonly cwd?: string;
}

export function openSqliteStore(options: SqliteStoreOptions = {}): Store {
  const path = options.path ?? DEFAULT_DB_PATH;
  const location = path === ':memory:' ? path : resolve(options.cwd ?? process.cwd(), path);
  const db = connect(location);
  try {
    // Another process may be migrating the same file: wait for it rather than fail.
    db.pragma('busy_timeout = 5000');
    checkIdentity(db, location);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, location);
  } catch (error) {
    db.close();
    throw error;
  }
  return new SqliteStore(db, location);
}

function connect(location: string): Database.Database {
  try {
    if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true });
    return new Database(location);
  } catch (error) {
    throw new StoreOpenError(location, error instanceof Error ? error.message : String(error));
  }
}

/** Fails unless the file is empty, or a database this project created. */
function checkIdentity(db: Database.Database, location: string): void {
  let applicationId: unknown;
  let tables: string[];
  try {
    applicationId = db.pragma('application_id', { simple: true });
    tables = tableNames(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all());
  } catch (error) {
    if (error instanceof Database.SqliteError && error.code === 'SQLITE_NOTADB') {
      throw new NotAShadowvmDatabaseError(location);
    }
    throw new StoreOpenError(location, error instanceof Error ? error.message : String(error));
  }
  const foreignId = applicationId !== 0 && applicationId !== APPLICATION_ID;
  const foreignTables = tables.length > 0 && !tables.includes('schema_migrations');
  if (foreignId || foreignTables) throw new NotAShadowvmDatabaseError(location);
}

/** Applies what is pending up to schema version `target`, each migration in one transaction. */
export function migrate(db: Database.Database, location: string, target = LATEST_SCHEMA_VERSION): void {
  db.exec(migrationsTable(SQLITE_TYPES));
  const applied = appliedVersions(db.prepare('SELECT version FROM schema_migrations').all());
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const migration of pendingMigrations(applied, location, target)) {
    db.transaction(() => {
      for (const statement of migration.statements(SQLITE_TYPES)) db.exec(statement);
      record.run(migration.version, migration.name, Date.now());
    })();
  }
  if (db.pragma('application_id', { simple: true }) !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
}

class SqliteStore implements Store {
  readonly computations: SqliteComputations;
  readonly vms: SqliteVms;
  readonly difflog: SqlDiffLog;
  readonly inputs: SqliteInputs;
  readonly checkpoints: SqliteCheckpoints;
  readonly audit: SqlAudit;

  constructor(
    private readonly db: Database.Database,
    readonly location: string,
  ) {
    const runner = new SqliteRunner(db);
    this.computations = new SqliteComputations(db);
    this.vms = new SqliteVms(db);
    this.difflog = new SqlDiffLog(runner, sqliteEpochWriter(db, runner));
    this.inputs = new SqliteInputs(db, runner);
    this.checkpoints = new SqliteCheckpoints(db, runner);
    this.audit = new SqlAudit(runner);
  }

  stats(computationId: string): LogStats {
    return this.difflog.stats(computationId);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
