// The QEMU driver against the driver contract, in both modes, opened through openDriver on the
// default Linux guest with a short workload.

import { test } from 'node:test';
import { skipWithout } from '../../host-tools.js';
import { type DriverSubject, driverContract } from '../contract.js';
import { openDriver } from '../open.js';
import { ensureGuest, type GuestImage } from './guest-build.js';
import { quietKernelAddress } from './guest-layout.js';

function qemuSubject(image: GuestImage, mode: 'lockstep' | 'free'): DriverSubject {
  const lockstep = mode === 'lockstep';
  const kernelArgs = lockstep ? ['shadowvm.rounds=1', 'shadowvm.size=100'] : ['shadowvm.rounds=80'];
  return {
    name: `qemu (${mode})`,
    open: async () => (await openDriver({ kind: 'qemu', mode, image: image.dir, kernelArgs, epochMs: lockstep ? 2000 : 1000 })).driver,
    guest: {
      minEpochs: 4,
      maxEpochs: 40,
      end: { kind: 'exit', code: 0 },
      takesInputs: lockstep,
      bitflipAddress: quietKernelAddress(image),
      limits: { memoryBytes: 128 * 2 ** 20, cpuShare: 1, epochBudget: 400_000_000 },
    },
    timing: { epochMs: 60_000, quietMs: 500 },
  };
}

const missing = skipWithout('qemu');
if (missing !== false) test('the driver contract: qemu', { skip: missing }, () => undefined);
else {
  const image = await ensureGuest();
  driverContract(qemuSubject(image, 'lockstep'));
  driverContract(qemuSubject(image, 'free'));
}
