// The fake driver against the driver contract: the healthy fake (pages of 1024 bytes, so nothing
// in the suite may assume 4096) passes every case, with all its capabilities or fewer; each
// deliberately broken fake fails exactly the cases that catch its flaw.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ContractCaseName, type DriverSubject, driverContract, runDriverContract } from '../contract.js';
import { openDriver } from '../open.js';
import { CAPABILITIES } from '../types.js';
import { registerFakeDriver } from './driver.js';
import type { FakeScriptInput, Flaw } from './script.js';

registerFakeDriver();

function fakeSubject(name: string, script: FakeScriptInput): DriverSubject {
  return {
    name,
    open: async () => (await openDriver({ kind: 'fake', script })).driver,
    // The script's defaults: 6 epochs, an input in each, 16 pages of 1024 bytes.
    guest: {
      minEpochs: 6,
      maxEpochs: 6,
      end: { kind: 'exit', code: 0 },
      takesInputs: true,
      bitflipAddress: 3 * 1024 + 100,
      limits: { memoryBytes: 16 * 1024, cpuShare: 1, epochBudget: 32 },
    },
    timing: { epochMs: 2000, quietMs: 20 },
  };
}

driverContract(fakeSubject('fake', {}));
driverContract(fakeSubject('fake without checkpoints', { capabilities: CAPABILITIES.filter((c) => c !== 'checkpoint') }));
driverContract(fakeSubject('fake with the core only', { capabilities: [] }));

/** The cases each flaw breaks: the one named for it, and any other whose promise it breaks too. */
const CAUGHT_BY: Readonly<Record<Flaw, readonly ContractCaseName[]>> = {
  // A shadow that makes up its inputs is neither fed nor in agreement with its primary.
  'ignores-feed': ['digests', 'input feed'],
  // A digest one epoch behind misses the flip at its epoch, and does not describe the snapshot taken
  // at the same barrier, so a restore to it finds another state and ends.
  'stale-digest': ['faults', 'snapshot/restore'],
  'unverified-restore': ['restore refuses a wrong state'],
  'kill-not-idempotent': ['kill'],
  'events-out-of-order': ['ends'],
};

for (const [flaw, expected] of Object.entries(CAUGHT_BY) as [Flaw, readonly ContractCaseName[]][]) {
  test(`the fake with flaw ${flaw} fails the contract at: ${expected.join(', ')}`, async () => {
    const results = await runDriverContract(fakeSubject(`fake (${flaw})`, { flaw }));
    const failed = results.filter((result) => result.failure !== undefined);
    const why = failed.map((result) => `${result.name}: ${(result.failure as Error).message}`).join('\n');
    assert.deepEqual(
      failed.map((result) => result.name),
      expected,
      why,
    );
  });
}
