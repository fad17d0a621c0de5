// `shadowvm run|list|log --server URL` against a real manager: the same output as standalone, for
// wasm guests and QEMU ones.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestService, type TestService } from '../api/testing.js';
import { ensureGuest } from '../drivers/qemu/guest-build.js';
import { expectedRound, printedRounds } from '../drivers/qemu/testing.js';
import { skipWithout } from '../host-tools.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function cli(args: readonly string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SHADOWVM_SERVER: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(stdin);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let service: TestService;
before(async () => {
  service = await startTestService();
});
after(async () => {
  await service?.close();
});

test('run, list and log through the manager print what they print standalone', async () => {
  const remote = await cli(['run', 'stdin_sum.wasm', '--server', service.url, '--profiles', 'thread/v8', '--json'], '5\n6\n7\n');
  assert.equal(remote.code, 0, remote.stderr);
  assert.match(remote.stdout, /total 18 over 3 numbers/);
  const report = JSON.parse(remote.stderr.trim().split('\n').pop() as string) as { computationId: string; exitCode: number };
  assert.equal(report.exitCode, 0);

  const list = await cli(['list', '--server', service.url, '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok((JSON.parse(list.stdout) as { id: string }[]).some((c) => c.id === report.computationId));

  const db = join(service.dir, 'shadowvm.db');
  for (const flags of [['--all'], []]) {
    const viaServer = await cli(['log', report.computationId, '--server', service.url, ...flags]);
    const viaStore = await cli(['log', report.computationId, '--store', db, ...flags]);
    assert.equal(viaServer.code, 0, viaServer.stderr);
    assert.equal(viaServer.stdout, viaStore.stdout);
  }
  const table = await cli(['list', '--server', service.url]);
  assert.match(table.stdout, new RegExp(`${report.computationId}\\s+stdin_sum\\.wasm\\s+succeeded\\s+0`));

  const missing = await cli(['log', 'c-zzzzzzzzzz', '--server', service.url]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /^shadowvm: .*no computation c-zzzzzzzzzz/);
});

test('run --driver qemu --server sends a QEMU computation: the manager refuses what it refuses, naming the field', async () => {
  const refused = await cli(['run', '--driver', 'qemu', '--server', service.url, '--', 'console=ttyS1']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /body\.kernelArgs\.0: must be a workload parameter shadowvm\.NAME=VALUE/);
  const local = await cli(['run', 'stdin_sum.wasm', '--input-dir', '.', '--server', service.url]);
  assert.equal(local.code, 2);
  assert.match(local.stderr, /--input-dir names a directory of this host; it cannot go with --server/);
});

test('run --driver qemu --mode free --server: the guest runs in the manager, and the run says where the primary is reached', {
  skip: skipWithout('qemu'),
  timeout: 240_000,
}, async () => {
  await ensureGuest();
  const rounds = 3;
  const run = await cli([
    'run',
    '--driver',
    'qemu',
    '--mode',
    'free',
    '--shadows',
    '1',
    '--server',
    service.url,
    '--',
    `shadowvm.rounds=${rounds}`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /^shadowvm: the guest's HTTP server \(port 80\); requests are mirrored to the shadows: http:\/\/127\.0\.0\.1:\d+$/m,
  );
  assert.deepEqual(
    printedRounds(run.stdout),
    Array.from({ length: rounds }, (_, i) => expectedRound(i + 1, 3000)),
  );
});
