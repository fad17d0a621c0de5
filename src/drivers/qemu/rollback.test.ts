// Lockstep rollback on real TCG guests: a restored primary replays its recording from a checkpoint
// to the barrier (agreeing with the shadow page for page), then records anew, and the shadow
// follows it into the new recording.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { skipWithout } from '../../host-tools.js';
import type { EpochReport, RestoreTarget } from '../types.js';
import { ensureGuest } from './guest-build.js';
import { quietKernelAddress } from './guest-layout.js';
import { createReplica, differingPages, step } from './harness.js';
import { qemuProcessesUnder } from './leaks.js';
import { LockstepDriver } from './lockstep-driver.js';
import { liveQemuCount } from './process.js';

test('lockstep rollback: replay from the checkpoint to the barrier, then a new recording the shadow follows', {
  timeout: 300_000,
  skip: skipWithout('qemu'),
}, async () => {
  const image = await ensureGuest();
  const driver = new LockstepDriver({ epochMs: 300 });
  try {
    const profile = driver.profiles()[0]!;
    const primary = await createReplica(driver, 'c/primary', 'primary', profile);
    const shadow = await createReplica(driver, 'c/shadow1', 'shadow', profile);
    const first = [primary.next(), shadow.next()];
    await Promise.all([primary.vm.start(), shadow.vm.start()]);
    await Promise.all(first);
    await step([primary, shadow]);
    await step([primary, shadow]);
    const checkpoint = primary.reports.at(-1)!;
    assert.equal(checkpoint.epoch, 3);
    const delta = await primary.vm.snapshot();
    await step([primary, shadow]);

    const address = quietKernelAddress(image);
    await primary.vm.inject({ kind: 'bitflip', address, bit: 5 });
    const [bad, healthy] = await step([primary, shadow]);
    assert.equal(bad!.epoch, 5);
    assert.deepEqual(differingPages(bad!, healthy!), [Math.floor(address / 4096)]);
    await primary.vm.kill('rolled back');

    const target: RestoreTarget = {
      epoch: checkpoint.epoch,
      digest: checkpoint.digest,
      driverState: {}, // the manager keeps only page digests: the driver finds its snapshot itself
      readPage: (page) => delta.changed.get(page)!,
    };
    const restored = await createReplica(driver, 'c/primary#2', 'primary', profile, {
      restore: { target, log: { read: () => [], length: 0 }, catchUpTo: 4 },
    });
    await restored.vm.start();
    const rejoined = await restored.next().then(() => restored.next());
    assert.equal(rejoined.epoch, 5);
    assert.deepEqual(differingPages(rejoined, healthy!), [], 'the restored primary agrees with the shadow at the barrier');
    assert.deepEqual(rejoined.digest.registers, healthy!.digest.registers);

    let reports: EpochReport[] = [];
    for (let i = 0; i < 3; i++) {
      reports = await step([restored, shadow]);
      assert.deepEqual(differingPages(reports[0]!, reports[1]!), [], `epoch ${reports[0]!.epoch}: pages differ after the rollback`);
    }
    assert.equal(reports[0]!.metrics.extra?.recording, 1, 'the restored primary records a new log');
    assert.equal(reports[1]!.metrics.extra?.recording, 1, 'the shadow follows the new log');
  } finally {
    await driver.close();
  }
  assert.equal(liveQemuCount(), 0);
  assert.equal(existsSync(driver.runtimePath), false);
  assert.deepEqual(qemuProcessesUnder(driver.runtimePath), []);
});
