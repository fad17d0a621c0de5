import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { storeContract } from '../contract.js';
import { NotAShadowvmDatabaseError, SchemaTooNewError, StoreOpenError } from '../errors.js';
import { LATEST_SCHEMA_VERSION } from '../migrations.js';
import type { Store } from '../types.js';
import { SqliteRunner } from './runner.js';
import { migrate, openSqliteStore } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'shadowvm-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function freshPath(): string {
  return join(dir, `db-${files++}.db`);
}

function withStore<T>(path: string, use: (store: Store) => T): T {
  const store = openSqliteStore({ path });
  try {
    return use(store);
  } finally {
    store.close();
  }
}

storeContract({
  fresh: freshPath,
  open: (path) => openSqliteStore({ path }),
  legacy: (path, version, statements) => {
    const db = new Database(path);
    try {
      migrate(db, path, version);
      new SqliteRunner(db).transaction(statements);
    } finally {
      db.close();
    }
  },
});

test('the default database lives in .shadowvm under the working directory', () => {
  const cwd = join(dir, 'project');
  mkdirSync(cwd);
  const store = openSqliteStore({ cwd });
  store.close();
  assert.equal(store.location, join(cwd, '.shadowvm', 'shadowvm.db'));
  assert.ok(existsSync(store.location));
});

test('migrations are recorded once each and the journal is WAL', () => {
  const path = freshPath();
  withStore(path, () => undefined);
  withStore(path, () => undefined);
  const db = new Database(path, { readonly: true });
  try {
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(
      versions,
      Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
    );
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  } finally {
    db.close();
  }
});

test('a file that is not a shadowvm database fails with a typed error naming it', () => {
  const text = freshPath();
  writeFileSync(text, 'hello, this is not SQLite at all '.repeat(200));
  assert.throws(
    () => openSqliteStore({ path: text }),
    (error: unknown) => {
      assert.ok(error instanceof NotAShadowvmDatabaseError);
      assert.ok(error.message.includes(text));
      return true;
    },
  );

  const foreign = freshPath();
  const db = new Database(foreign);
  db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
  db.close();
  assert.throws(() => openSqliteStore({ path: foreign }), NotAShadowvmDatabaseError);
});

test('a database from a newer shadowvm fails with a typed error', () => {
  const path = freshPath();
  withStore(path, () => undefined);
  const db = new Database(path);
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_SCHEMA_VERSION + 1, 'future', 0);
  db.close();
  assert.throws(() => openSqliteStore({ path }), SchemaTooNewError);
});

test('a path that cannot be a database file fails with a typed error', () => {
  const directory = join(dir, 'a-directory');
  mkdirSync(directory);
  assert.throws(() => openSqliteStore({ path: directory }), StoreOpenError);
});
