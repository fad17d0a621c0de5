import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { skipWithout } from '../../host-tools.js';
import { storeContract } from '../contract.js';
import { NotAShadowvmDatabaseError, SchemaTooNewError } from '../errors.js';
import { LATEST_SCHEMA_VERSION } from '../migrations.js';
import { PostgresConnection } from './connection.js';
import { PostgresConnectError, PostgresQueryError } from './errors.js';
import { migrate, openPostgresStore } from './store.js';
import { PASSWORD_ROLE, startTestPostgres, type TestPostgres } from './testing.js';
import { redactUrl } from './url.js';

describe('PostgreSQL store', { skip: skipWithout('postgres') }, () => {
  let server: TestPostgres;
  before(async () => {
    server = await startTestPostgres();
  });
  after(() => server.stop());

  /** Runs SQL on a database directly, beside the store: to set up what the store must detect, or to look. */
  function sql(url: string, statement: string): unknown[] {
    const db = PostgresConnection.open(url, redactUrl(url));
    try {
      return db.query(statement);
    } finally {
      db.close();
    }
  }

  storeContract({
    fresh: () => server.createDatabase(),
    open: (url) => openPostgresStore({ url }),
    legacy: (url, version, statements) => {
      const db = PostgresConnection.open(url, redactUrl(url));
      try {
        migrate(db, url, version);
        db.transaction(statements);
      } finally {
        db.close();
      }
    },
  });

  test('the store location is the URL without its password', () => {
    const url = server.createDatabase().replace('postgres@', 'postgres:s3cret@');
    const store = openPostgresStore({ url });
    try {
      assert.equal(store.location.includes('s3cret'), false);
      assert.match(store.location, /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/shadowvm_\d+$/);
    } finally {
      store.close();
    }
  });

  test('migrations are recorded once each', () => {
    const url = server.createDatabase();
    openPostgresStore({ url }).close();
    openPostgresStore({ url }).close();
    const versions = sql(url, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      versions,
      Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
    );
  });

  test('a database from a newer shadowvm fails with a typed error', () => {
    const url = server.createDatabase();
    openPostgresStore({ url }).close();
    sql(url, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${LATEST_SCHEMA_VERSION + 1}, 'future', 0)`);
    assert.throws(() => openPostgresStore({ url }), SchemaTooNewError);
  });

  test('a database holding other tables is not taken over', () => {
    const url = server.createDatabase();
    sql(url, 'CREATE TABLE customers (id BIGINT PRIMARY KEY, name TEXT)');
    assert.throws(
      () => openPostgresStore({ url }),
      (error: unknown) => {
        assert.ok(error instanceof NotAShadowvmDatabaseError);
        assert.ok(error.message.includes(url));
        return true;
      },
    );
  });

  test('a failing statement is a typed error carrying its SQLSTATE', () => {
    const url = server.createDatabase();
    const db = PostgresConnection.open(url, redactUrl(url));
    try {
      assert.throws(
        () => db.query('SELECT * FROM no_such_table'),
        (error: unknown) => {
          assert.ok(error instanceof PostgresQueryError);
          assert.equal(error.sqlstate, '42P01');
          return true;
        },
      );
      // The connection stays usable after a failed statement and after a rolled-back transaction.
      assert.throws(
        () =>
          db.transaction([
            { sql: 'SELECT 1', params: [] },
            { sql: 'SELECT 1/0', params: [] },
          ]),
        PostgresQueryError,
      );
      assert.deepEqual(db.query('SELECT $1::bytea AS b, 2::bigint AS n', [new Uint8Array([1, 2])]), [{ b: new Uint8Array([1, 2]), n: 2 }]);
    } finally {
      db.close();
    }
  });

  test('a missing database, refused connection or bad password is one line naming the URL and the fix', () => {
    const missing = server.url('no_such_db');
    assert.throws(
      () => openPostgresStore({ url: missing }),
      (error: unknown) => {
        assert.ok(error instanceof PostgresConnectError);
        assert.equal(error.failure, 'no-database');
        assert.match(error.message, /no_such_db.*does not exist; create it with createdb/);
        assert.ok(!error.message.includes('\n'));
        return true;
      },
    );

    const closedPort = `postgres://postgres:hunter2@127.0.0.1:${server.port === 1 ? 2 : 1}/x`;
    assert.throws(
      () => openPostgresStore({ url: closedPort }),
      (error: unknown) => {
        assert.ok(error instanceof PostgresConnectError);
        assert.equal(error.failure, 'refused');
        assert.match(error.message, /127\.0\.0\.1:1\/x: connection refused; start the server/);
        assert.ok(!error.message.includes('hunter2'));
        return true;
      },
    );

    const url = server.createDatabase();
    sql(url, `CREATE ROLE ${PASSWORD_ROLE} LOGIN PASSWORD 'right'`);
    const wrong = url.replace('postgres@', `${PASSWORD_ROLE}:wrong@`);
    assert.throws(
      () => openPostgresStore({ url: wrong }),
      (error: unknown) => {
        assert.ok(error instanceof PostgresConnectError);
        assert.equal(error.failure, 'auth');
        assert.match(error.message, /authentication failed; check the user and password in the URL/);
        assert.ok(error.message.includes(`${PASSWORD_ROLE}:***@`));
        assert.ok(!error.message.includes('wrong'));
        return true;
      },
    );
  });
});
