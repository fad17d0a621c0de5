// `shadowvm run|list|log --server URL` against a real manager: the same output as standalone.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestService, type TestService } from '../api/testing.js';

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
