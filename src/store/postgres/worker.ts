// Worker side of the PostgreSQL store: owns the pg connection (whose API is only asynchronous)
// and answers one request at a time, so the store's methods can stay synchronous.

import { workerData } from 'node:worker_threads';
import { Client } from 'pg';
import type { SqlStatement } from '../rows/sql.js';
import { Flag, type PgFailure, type PgRequest, type PgResponse, type PgWorkerData, type Row } from './channel.js';

const { url, port, flag } = workerData as PgWorkerData;
const signal = new Int32Array(flag);

const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'shadowvm' });
// BIGINT (20) and NUMERIC (1700, what SUM over BIGINT gives) arrive as text by default because
// they may exceed 2^53; every such column here is an id, a count, a byte total or a timestamp in ms.
client.setTypeParser(20, 'text', Number);
client.setTypeParser(1700, 'text', Number);

/** Set when the connection broke between requests; every later request fails with it. */
let broken: PgFailure | null = null;
client.on('error', (error) => {
  broken = describe(error);
});

function describe(error: unknown): PgFailure {
  if (!(error instanceof Error)) return { code: null, message: String(error) };
  const code = 'code' in error && typeof error.code === 'string' ? error.code : null;
  // A refused connection to a name with several addresses is an AggregateError with no message.
  const message = error.message.split('\n')[0] || code || error.name;
  return { code, message };
}

async function runAll(statements: readonly SqlStatement[]): Promise<Row[][]> {
  const results: Row[][] = [];
  for (const { sql, params } of statements) results.push((await client.query(sql, params)).rows);
  return results;
}

async function runInTransaction(statements: readonly SqlStatement[]): Promise<Row[][]> {
  // One statement is atomic by itself: BEGIN and COMMIT would only add two round trips.
  if (statements.length === 1) return runAll(statements);
  await client.query('BEGIN');
  try {
    const results = await runAll(statements);
    await client.query('COMMIT');
    return results;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function handle(request: PgRequest): Promise<PgResponse> {
  if (broken !== null) return { ok: false, failure: broken };
  try {
    switch (request.kind) {
      case 'connect':
        await client.connect();
        return { ok: true, results: [] };
      case 'run':
        return { ok: true, results: await (request.transaction ? runInTransaction : runAll)(request.statements) };
      case 'close':
        await client.end();
        return { ok: true, results: [] };
    }
  } catch (error) {
    return { ok: false, failure: describe(error) };
  }
}

port.on('message', (request: PgRequest) => {
  void handle(request).then((response) => {
    // Post before raising the flag: the caller reads the port as soon as it wakes.
    port.postMessage(response);
    Atomics.store(signal, 0, Flag.Answered);
    Atomics.notify(signal, 0);
    if (request.kind === 'close') port.close();
  });
});
