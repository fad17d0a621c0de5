// The driver's snapshot registry stays bounded on tmpfs and finds the snapshot a stalled replayer
// restarts from.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointRegistry } from './checkpoint-registry.js';

test('the registry keeps the newest three snapshots, deletes older copies, and finds restart points', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-registry-'));
  try {
    const registry = new CheckpointRegistry();
    const disks = [4, 8, 12, 16, 20].map((epoch) => {
      const disk = join(dir, `e${epoch}.qcow2`);
      writeFileSync(disk, 'qcow2');
      registry.add({ epoch, pageHashes: new Uint8Array(16), tag: `e${epoch}`, disk, recording: epoch < 16 ? 0 : 1 });
      return disk;
    });
    assert.deepEqual(
      disks.map((disk) => existsSync(disk)),
      [false, false, true, true, true],
    );
    assert.throws(
      () =>
        registry.find({
          epoch: 4,
          digest: { pageSize: 4096, pageHashes: new Uint8Array(16), registers: {}, outputs: {} },
          driverState: { tag: 'e4' },
          readPage: () => new Uint8Array(4096),
        }),
      /no QEMU snapshot/,
    );
    assert.equal(registry.latestIn(0, () => true)?.tag, 'e12');
    assert.equal(registry.latestIn(1, (epoch) => epoch < 20)?.tag, 'e16');
    assert.equal(
      registry.latestIn(1, (epoch) => epoch < 16),
      undefined,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
