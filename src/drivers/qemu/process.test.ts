// The start-up sweep kills processes recorded by a dead manager and removes its directory, and
// never touches the directories of live managers.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { skipWithout } from '../../host-tools.js';
import { RuntimeDir, sweepStale } from './process.js';

test("sweepStale kills a dead manager's processes and removes its files", async () => {
  const root = mkdtempSync(join(tmpdir(), 'shadowvm-sweep-'));
  try {
    const mine = RuntimeDir.create(root);
    const deadPid = spawnSync('true').pid!;
    const stale = join(root, `m-${deadPid}-feed`);
    mkdirSync(stale);
    writeFileSync(join(stale, 'vm.ram'), 'guest memory');
    // Stands in for a QEMU: its command line names the stale directory, like QEMU's does.
    const orphan = spawn('sh', ['-c', 'sleep 60', stale], { detached: true, stdio: 'ignore' });
    const orphanGone = new Promise<void>((resolve) => orphan.on('exit', () => resolve()));
    writeFileSync(join(stale, 'vm.pid'), `${orphan.pid}\n`);

    assert.equal(sweepStale(root), 1);
    await orphanGone;
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(mine.path), true);
    mine.remove();
    assert.equal(existsSync(mine.path), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a manager ended by SIGTERM takes its QEMUs and its runtime directory with it', { skip: skipWithout('qemu') }, async () => {
  const processModule = new URL('./process.js', import.meta.url).href;
  const manager = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const { QemuProcess, RuntimeDir } = await import(${JSON.stringify(processModule)});
    const dir = RuntimeDir.create();
    const qemu = QemuProcess.start(dir, 'idle', ['-S', '-nodefaults', '-display', 'none', '-machine', 'none']);
    console.log(JSON.stringify({ pid: qemu.pid, dir: dir.path }));
    setInterval(() => {}, 1000);
  `,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const { pid: qemuPid, dir } = await new Promise<{ pid: number; dir: string }>((resolve) =>
    manager.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as { pid: number; dir: string })),
  );
  const ended = new Promise<NodeJS.Signals | null>((resolve) => manager.on('exit', (_code, signal) => resolve(signal)));
  manager.kill('SIGTERM');
  assert.equal(await ended, 'SIGTERM', 'the signal still ends the manager');
  const alive = () => {
    try {
      process.kill(qemuPid, 0);
      return !readFileSync(`/proc/${qemuPid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 50 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(alive(), false, 'no QEMU outlives its manager');
  assert.equal(existsSync(dir), false, 'nor its runtime directory');
});
