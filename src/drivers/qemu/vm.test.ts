// QEMU VMs without a booted guest: asked for what their mode (or driver) cannot do, they refuse
// with a typed error (never a silent no-op, and before QEMU is asked); killed while they wait on
// another VM, their requests fail at once instead of waiting for that VM.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { skipWithout } from '../../host-tools.js';
import { CapabilityMissingError } from '../capabilities.js';
import type { Capability, Role, Vm, VmEvents } from '../types.js';
import type { QemuDriver } from './driver.js';
import { VmGoneError } from './errors.js';
import { FreeDriver } from './free-driver.js';
import { ensureGuest } from './guest-build.js';
import { LockstepDriver } from './lockstep-driver.js';
import { liveQemuCount } from './process.js';

const quiet: VmEvents = {
  onEpoch: () => undefined,
  onInput: () => undefined,
  onInputMismatch: () => undefined,
  onRestored: () => undefined,
  onGone: () => undefined,
};

/** A VM of `driver`, created and never started. */
function unstarted(driver: QemuDriver, id: string, role: Role, events: VmEvents = quiet): Promise<Vm> {
  return driver.createVm({ id, role, profile: driver.profiles()[0]!, limits: {}, events });
}

test('a lockstep VM refuses a CPU share and a corrupted input; a free-running VM refuses an epoch budget', {
  skip: skipWithout('qemu'),
}, async () => {
  await ensureGuest();
  const lockstep = new LockstepDriver();
  const free = new FreeDriver();
  try {
    const recorder = await unstarted(lockstep, 'p', 'primary');
    const replayer = await unstarted(lockstep, 's', 'shadow');
    await assert.rejects(recorder.adjust({ cpuShare: 2 }), CapabilityMissingError);
    await assert.rejects(replayer.inject({ kind: 'corrupt-input', seq: 0 }), CapabilityMissingError);
    const primary = await unstarted(free, 'p', 'primary');
    await assert.rejects(primary.adjust({ epochBudget: 1_000_000 }), CapabilityMissingError);
    assert.equal(primary.limits().epochBudget, undefined, 'a refused change changes nothing');
  } finally {
    await Promise.all([lockstep.close(), free.close()]);
  }
});

test('a VM whose driver lacks pages and checkpoints refuses readPages and snapshot before asking QEMU', {
  skip: skipWithout('qemu'),
}, async () => {
  await ensureGuest();
  const none: ReadonlySet<Capability> = new Set();
  const drivers = [
    new (class extends LockstepDriver {
      override readonly capabilities = none;
    })(),
    new (class extends FreeDriver {
      override readonly capabilities = none;
    })(),
  ];
  try {
    for (const driver of drivers) {
      const vm = await unstarted(driver, 'p', 'primary');
      await assert.rejects(vm.readPages([0]), CapabilityMissingError);
      await assert.rejects(vm.snapshot(), CapabilityMissingError);
    }
  } finally {
    await Promise.all(drivers.map((driver) => driver.close()));
  }
});

/** Events that count `onGone` and fail on a report. */
function counting(): { events: VmEvents; gone: string[] } {
  const gone: string[] = [];
  const events: VmEvents = {
    ...quiet,
    onEpoch: (report) => assert.fail(`a killed VM reported epoch ${report.epoch}`),
    onGone: (end) => gone.push(end.kind),
  };
  return { events, gone };
}

test('no request outlives its VM: a start waiting on another VM fails once the VM is killed', { skip: skipWithout('qemu') }, async () => {
  await ensureGuest();
  const lockstep = new LockstepDriver();
  const free = new FreeDriver();
  try {
    await unstarted(lockstep, 'p', 'primary');
    // A replayer waits for its primary to publish the first boundary (the primary never starts).
    const replaying = counting();
    const replayer = await unstarted(lockstep, 's', 'shadow', replaying.events);
    const replayStart = replayer.start();
    // A shadow of the primary's hardware waits for the primary to be clonable (it never will be).
    await unstarted(free, 'p', 'primary');
    const cloning = counting();
    const clone = await unstarted(free, 's', 'shadow', cloning.events);
    const cloneStart = clone.start();

    await Promise.all([replayer.kill('test'), clone.kill('test')]);
    await assert.rejects(replayStart, VmGoneError);
    await assert.rejects(cloneStart, VmGoneError);
    await replayer.kill('again');
    replayer.resume();
    await assert.rejects(replayer.start(), VmGoneError);
    await setImmediate();
    assert.deepEqual(replaying.gone, ['killed'], 'onGone comes once, and a gone VM starts nothing');
    assert.deepEqual(cloning.gone, ['killed']);
    assert.equal(liveQemuCount(), 0, 'no QEMU was started');
  } finally {
    await Promise.all([lockstep.close(), free.close()]);
  }
});
