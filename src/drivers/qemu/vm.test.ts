// QEMU VMs asked for what their mode cannot do refuse with a typed error, never a silent no-op;
// none of this needs a guest to boot (the capability is checked before QEMU is asked).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CapabilityMissingError } from '../capabilities.js';
import type { Role, Vm, VmEvents } from '../types.js';
import type { QemuDriver } from './driver.js';
import { FreeDriver } from './free-driver.js';
import { ensureGuest } from './guest-build.js';
import { LockstepDriver } from './lockstep-driver.js';
import { qemuMissing } from './testing.js';

const quiet: VmEvents = { onEpoch: () => undefined, onInput: () => undefined, onInputMismatch: () => undefined, onGone: () => undefined };

/** A VM of `driver`, created and never started. */
function unstarted(driver: QemuDriver, id: string, role: Role, events: VmEvents = quiet): Promise<Vm> {
  return driver.createVm({ id, role, profile: driver.profiles()[0]!, limits: {}, events });
}

test('a lockstep VM refuses a CPU share and a corrupted input; a free-running VM refuses an epoch budget', {
  skip: qemuMissing(),
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
