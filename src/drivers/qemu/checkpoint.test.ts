// Checkpoint → change → restore on a free-running TCG guest: the restored VM starts from the
// checkpoint's RAM (checked page by page on restore) and disk.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { skipWithout } from '../../host-tools.js';
import type { RestoreTarget } from '../types.js';
import { FreeDriver } from './free-driver.js';
import { ensureGuest } from './guest-build.js';
import { createReplica, step } from './harness.js';
import { qemuProcessesUnder } from './leaks.js';
import { liveQemuCount } from './process.js';
import { diskContents } from './testing.js';

/** Workload round the guest last wrote to sector 0 of a (possibly in-use) qcow2 disk. */
function lastRoundOnDisk(disk: string, snapshot?: string): number {
  const sector = diskContents(disk, snapshot).subarray(0, 512).toString();
  return Number(/round (\d+)/.exec(sector)?.[1] ?? 0);
}

test('checkpoint, change, restore brings back RAM and disk', { timeout: 180_000, skip: skipWithout('qemu') }, async () => {
  await ensureGuest();
  const driver = new FreeDriver({ epochMs: 1500 });
  try {
    const profile = driver.profiles()[0]!;
    const vm = await createReplica(driver, 'p', 'primary', profile);
    const first = vm.next();
    await vm.vm.start();
    await first;
    for (let i = 0; i < 3; i++) await step([vm]);
    const checkpointReport = vm.reports.at(-1)!;
    const delta = await vm.vm.snapshot();
    const tag = delta.driverState.tag!;
    const roundAtCheckpoint = lastRoundOnDisk(delta.driverState.disk!, tag);
    assert.ok(roundAtCheckpoint > 0, 'the workload wrote to disk before the checkpoint');

    // Change: the guest runs on and a bit flips.
    await vm.vm.inject({ kind: 'bitflip', address: 90 * 2 ** 20, bit: 0 });
    await step([vm]);
    await step([vm]);
    const changed = vm.reports.at(-1)!;
    assert.notDeepEqual(changed.digest.pageHashes, checkpointReport.digest.pageHashes);
    await vm.vm.kill('rolled back');

    const pages = new Map(delta.changed);
    const target: RestoreTarget = {
      epoch: delta.epoch,
      digest: { ...checkpointReport.digest, pageHashes: checkpointReport.digest.pageHashes },
      driverState: delta.driverState,
      readPage: (page) => pages.get(page)!,
    };
    const restored = await createReplica(driver, 'p2', 'primary', profile, {
      restore: { target, log: { read: () => [], length: 0 }, catchUpTo: 0 },
    });
    const next = restored.next();
    await restored.vm.start(); // a RAM other than the checkpoint's, page for page, would end it instead
    const after = await next;
    assert.equal(after.epoch, delta.epoch + 1);
    const [page] = await restored.vm.readPages([Math.floor((90 * 2 ** 20) / 4096)]);
    assert.equal(page![0]! & 1, 0, 'the flipped bit is gone');
    const serial = Buffer.concat(after.outputs.map((o) => o.bytes)).toString();
    const firstRound = Number(/round (\d+)/.exec(serial)?.[1] ?? -1);
    // The guest prints a round before writing it to disk, so the checkpoint may fall in between.
    const gap = firstRound - roundAtCheckpoint;
    assert.ok(
      gap === 1 || gap === 2,
      `the guest continues from the checkpoint (disk round ${roundAtCheckpoint}, next printed ${firstRound})`,
    );
    const roundAfterChange = Number(/round (\d+)/.exec(Buffer.concat(changed.outputs.map((o) => o.bytes)).toString())?.[1] ?? 0);
    assert.ok(firstRound < roundAfterChange, 'the rounds run after the checkpoint were rolled back');
  } finally {
    await driver.close();
  }
  assert.equal(liveQemuCount(), 0);
  assert.equal(existsSync(driver.runtimePath), false);
  assert.deepEqual(qemuProcessesUnder(driver.runtimePath), []);
});
