// The QEMU driver against the driver contract, in both modes, opened through openDriver on the
// default Linux guest with a short workload.

import { test } from 'node:test';
import { skipWithout } from '../../host-tools.js';
import { type DriverSubject, driverContract } from '../contract.js';
import { openDriver } from '../open.js';
import type { QemuSpec } from '../spec.js';
import { ensureGuest, type GuestImage } from './guest-build.js';
import { quietKernelAddress } from './guest-layout.js';

/** How each mode's guest is run, and how many epochs that makes. */
interface ModeRun {
  readonly spec: Pick<QemuSpec, 'kernelArgs' | 'epochMs'>;
  readonly minEpochs: number;
  readonly maxEpochs: number;
}

/** The suite sets it at the end of epoch 1; lockstep epochs are then that many instructions. */
const EPOCH_BUDGET = 400_000_000;

const RUNS: Readonly<Record<QemuSpec['mode'], ModeRun>> = {
  // A boot and one small round, about 2.06 G instructions: a 500 ms first slice, then 5 epochs of
  // the budget.
  lockstep: { spec: { kernelArgs: ['shadowvm.rounds=1', 'shadowvm.size=100'], epochMs: 500 }, minEpochs: 5, maxEpochs: 8 },
  // Wall-clock slices after a first one that lasts the boot (the epoch budget is refused). 160
  // rounds ran 13 slices here with 4 runnable processes on 2 cores; fewer on an idle host, but
  // enough that a VM restored at epoch 2 still runs 2 more.
  free: { spec: { kernelArgs: ['shadowvm.rounds=160'], epochMs: 1000 }, minEpochs: 5, maxEpochs: 60 },
};

function qemuSubject(image: GuestImage, mode: QemuSpec['mode']): DriverSubject {
  const { spec, minEpochs, maxEpochs } = RUNS[mode];
  return {
    name: `qemu (${mode})`,
    open: async () => (await openDriver({ kind: 'qemu', mode, image: image.dir, ...spec })).driver,
    guest: {
      minEpochs,
      maxEpochs,
      end: { kind: 'exit', code: 0 },
      // The lockstep primary logs each epoch's boundary (its instruction count) as an input.
      takesInputs: mode === 'lockstep',
      bitflipAddress: quietKernelAddress(image),
      // The guest's whole RAM (a balloon that takes nothing), one vCPU.
      limits: { memoryBytes: 128 * 2 ** 20, cpuShare: 1, epochBudget: EPOCH_BUDGET },
    },
    // Lockstep epochs took up to 13 s here (a recorder and a replayer on a loaded 2-core host).
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
