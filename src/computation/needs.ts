// What a computation asks of its driver beyond the core contract, and why: planned faults, and the
// policy's actions that change limits. Checked before anything starts, so a configuration the
// driver cannot honour is refused with the capability named, never run as a silent no-op. (The
// built-in policy asks only for what it can do without; a raise it cannot make fails as an action.)

import type { Need } from '../drivers/capabilities.js';
import { faultCapability } from '../drivers/capabilities.js';
import type { Capability } from '../drivers/types.js';
import { type ActionKind, BUILT_IN_SOURCE, type Policy, type VmPolicy } from '../policy/index.js';
import type { ComputationConfig } from './config.js';

const RAISES: Partial<Record<ActionKind, Capability>> = {
  'raise-memory': 'memory-limit',
  'raise-cpu': 'cpu-limit',
  'raise-epoch-budget': 'epoch-budget',
};

export function neededCapabilities(config: ComputationConfig, policy: Policy | undefined): Need[] {
  const needs: Need[] = config.faults.map((planned) => ({
    capability: faultCapability(planned.fault),
    why: `the ${planned.fault.kind} fault planned for ${planned.target} at epoch ${planned.epoch}`,
  }));
  if (policy === undefined || policy.source === BUILT_IN_SOURCE) return needs;
  const settings = [policy.defaults, ...policy.overrides.map((o) => o.patch)] as readonly Partial<VmPolicy>[];
  for (const vm of settings) {
    for (const level of vm.levels ?? []) {
      for (const action of level.actions) {
        const capability = RAISES[action];
        if (capability) needs.push({ capability, why: `${policy.source}: level ${level.name}'s ${action}` });
      }
    }
    for (const [resource, rule] of Object.entries(vm.forecast ?? {})) {
      const capability = rule ? RAISES[rule.action] : undefined;
      if (capability) needs.push({ capability, why: `${policy.source}: the ${resource} forecast's ${rule?.action}` });
    }
  }
  return needs;
}
