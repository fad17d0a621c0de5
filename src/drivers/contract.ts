// The driver contract suite: every promise of types.ts' header, checked against any driver. A
// driver's test hands it a subject (how to open the driver, what its guest does) and either
// registers the cases as node:test tests (driverContract) or runs them and reads which failed
// (runDriverContract: how the broken fakes prove that each case catches what it should).
//
// To hold a new driver to it: a test file that calls driverContract({ name, open, guest, timing })
// with a guest of at least MIN_GUEST_EPOCHS epochs and timeouts that suit the driver.
//
// Cost: the guest runs once to its end as a primary and a shadow fed its inputs; most cases judge
// that run, adding at most one VM to its driver (restored from its snapshot or its log) and never
// ending the pair. The cases that end VMs on purpose (requests settle, kill, which also closes its
// driver over a VM left running) each open a driver of their own, so a broken kill or close cannot
// take the other cases' evidence with it. On QEMU under TCG that is one guest run per mode plus
// short ones: about 65 s lockstep and 45 s free-running on a shared 2-core host.

import { after, describe, test } from 'node:test';
import { CONTRACT, type ContractCaseName } from './contract-cases.js';
import { ContractRun } from './contract-run.js';
import { checkSubject, type DriverSubject } from './contract-subject.js';

export { CONTRACT_CASES, type ContractCaseName } from './contract-cases.js';
export { type DriverSubject, MIN_GUEST_EPOCHS, type SubjectGuest, type SubjectTiming } from './contract-subject.js';

export interface ContractResult {
  readonly name: ContractCaseName;
  /** Why the case failed; absent when it passed. */
  readonly failure?: unknown;
}

/** Registers one test per case, in a suite named after the subject. */
export function driverContract(subject: DriverSubject): void {
  checkSubject(subject);
  describe(`the driver contract: ${subject.name}`, () => {
    const run = new ContractRun(subject);
    after(() => run.close());
    for (const { name, check } of CONTRACT) test(name, () => check(run));
  });
}

/** Runs every case in order and says how each went. */
export async function runDriverContract(subject: DriverSubject): Promise<ContractResult[]> {
  checkSubject(subject);
  const run = new ContractRun(subject);
  const results: ContractResult[] = [];
  try {
    for (const { name, check } of CONTRACT) {
      try {
        await check(run);
        results.push({ name });
      } catch (failure) {
        results.push({ name, failure });
      }
    }
  } finally {
    await run.close();
  }
  return results;
}
