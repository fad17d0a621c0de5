// Optional capabilities of a driver (types.ts): the error a VM throws when asked for one its driver
// lacks, and the check that refuses a computation needing one before it starts.

import { ShadowvmError } from '../errors.js';
import type { Capability, Driver, Fault, ResourceLimits } from './types.js';

/** What a configuration asks of its driver, and why (the flag or policy rule that asks). */
export interface Need {
  readonly capability: Capability;
  readonly why: string;
}

export class CapabilityMissingError extends ShadowvmError {
  constructor(
    readonly driver: string,
    readonly capability: Capability,
    why: string,
  ) {
    super('capability-missing', `the ${driver} driver cannot ${DOES[capability]}, which ${why} needs; drop it or use another driver`);
  }
}

const DOES: Readonly<Record<Capability, string>> = {
  checkpoint: 'take checkpoints and restore them',
  pages: 'read guest pages',
  'memory-limit': 'change a memory limit at run time',
  'cpu-limit': 'change a CPU share at run time',
  'epoch-budget': 'change the epoch length at run time',
  bitflip: 'inject bit flips',
  'corrupt-input': 'corrupt a replayed input',
};

/** Throws for the first need the driver cannot meet. */
export function requireCapabilities(driver: Pick<Driver, 'name' | 'capabilities'>, needs: readonly Need[]): void {
  for (const need of needs) {
    if (!driver.capabilities.has(need.capability)) throw new CapabilityMissingError(driver.name, need.capability, need.why);
  }
}

/** The capability a fault needs. */
export function faultCapability(fault: Pick<Fault, 'kind'>): Capability {
  return fault.kind === 'bitflip' ? 'bitflip' : 'corrupt-input';
}

/** The capabilities a change of limits needs, one per limit it sets. */
export function limitCapabilities(change: ResourceLimits): Capability[] {
  const needed: Capability[] = [];
  if (change.memoryBytes !== undefined) needed.push('memory-limit');
  if (change.cpuShare !== undefined) needed.push('cpu-limit');
  if (change.epochBudget !== undefined) needed.push('epoch-budget');
  return needed;
}

/** For a VM method: throws unless the VM's driver has the capability. */
export function ensureCapability(driver: Pick<Driver, 'name' | 'capabilities'>, capability: Capability, why: string): void {
  requireCapabilities(driver, [{ capability, why }]);
}
