// The start-up sweep kills processes recorded by a dead manager and removes its directory, and
// never touches the directories of live managers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeDir, sweepStale } from './process.js';

test('sweepStale kills a dead manager\'s processes and removes its files', async () => {
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
