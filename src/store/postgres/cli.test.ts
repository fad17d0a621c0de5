// `--store postgres://…` as a user types it: a real shadowvm process writing to and reading from
// a real PostgreSQL server.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skipWithout } from '../../host-tools.js';
import { startTestPostgres, type TestPostgres } from './testing.js';

const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const guest = fileURLToPath(new URL('../../../../guests/bin/stdin_sum.wasm', import.meta.url));

function shadowvm(args: readonly string[], input = '') {
  const result = spawnSync(process.execPath, [main, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('shadowvm --store postgres://', { skip: skipWithout('postgres') }, () => {
  let server: TestPostgres;
  before(async () => {
    server = await startTestPostgres();
  });
  after(() => server.stop());

  test('run records the computation in PostgreSQL and log reads it back', () => {
    const url = server.createDatabase();
    const run = shadowvm(['run', guest, '--shadows', '2', '--json', '--store', url], '1\n2\n39\n');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /total 42 over 3 numbers/);
    const report = JSON.parse(run.stderr.trim().split('\n').pop() ?? '{}') as { computationId: string };

    const log = shadowvm(['log', report.computationId, '--all', '--json', '--store', url]);
    assert.equal(log.code, 0, log.stderr);
    const view = JSON.parse(log.stdout) as {
      computation: { id: string; status: string; exitCode: number };
      epochs: unknown[];
      divergences: unknown[];
    };
    assert.deepEqual([view.computation.id, view.computation.status, view.computation.exitCode], [report.computationId, 'succeeded', 0]);
    assert.ok(view.epochs.length > 0);
    assert.deepEqual(view.divergences, []);
  });

  test('an unreachable server is one line naming the URL without its password', () => {
    const result = shadowvm(['log', 'c-0000000000', '--store', 'postgres://me:topsecret@127.0.0.1:1/shadowvm']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(
      result.stderr,
      /^shadowvm: cannot connect to PostgreSQL at postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/shadowvm: connection refused; start the server/,
    );
    assert.doesNotMatch(result.stderr, /topsecret/);
  });
});
