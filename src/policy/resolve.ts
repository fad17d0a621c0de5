// Turns a computation's policy into the settings of one VM. Overrides apply from least to most
// specific (role, then profile, then id; file order among equals), so a rule for one VM id always
// beats a rule for its whole role whatever order the file lists them in.

import type { Role } from '../drivers/types.js';
import type { ActionKind, ForecastResource, Policy, RaiseResource, VmMatch, VmPolicy, VmPolicyPatch } from './schema.js';

/** Which VM a policy is resolved for. `profile` is the diversity profile's name. */
export interface VmIdentity {
  readonly id: string;
  readonly role: Role;
  readonly profile: string;
}

function matches(match: VmMatch, vm: VmIdentity): boolean {
  return (
    (match.id === undefined || match.id === vm.id) &&
    (match.role === undefined || match.role === vm.role) &&
    (match.profile === undefined || match.profile === vm.profile)
  );
}

function specificity(match: VmMatch): number {
  if (match.id !== undefined) return 3;
  if (match.profile !== undefined) return 2;
  return 1;
}

/** Entries set to null are removed; other entries replace the inherited ones key by key. */
function mergeNullable<K extends string, V>(
  base: Readonly<Partial<Record<K, V>>>,
  patch: Readonly<Partial<Record<K, V | null>>> | undefined,
): Partial<Record<K, V>> {
  const merged: Partial<Record<K, V>> = { ...base };
  for (const [key, value] of Object.entries(patch ?? {}) as [K, V | null | undefined][]) {
    if (value === null) delete merged[key];
    else if (value !== undefined) merged[key] = value;
  }
  return merged;
}

/** Applies the keys a file or an override states on top of inherited settings. */
export function applyPatch(base: VmPolicy, patch: VmPolicyPatch): VmPolicy {
  const raise = { ...base.raise };
  for (const resource of Object.keys(raise) as RaiseResource[]) {
    raise[resource] = { ...base.raise[resource], ...patch.raise?.[resource] };
  }
  return {
    levels: patch.levels ?? base.levels,
    forecast: mergeNullable<ForecastResource, NonNullable<VmPolicy['forecast'][ForecastResource]>>(base.forecast, patch.forecast),
    rateLimits: mergeNullable<ActionKind, NonNullable<VmPolicy['rateLimits'][ActionKind]>>(base.rateLimits, patch.rateLimits),
    raise,
    dryRun: patch.dryRun ?? base.dryRun,
  };
}

/** The settings that apply to `vm`: the computation's defaults with its matching overrides. */
export function resolvePolicy(policy: Policy, vm: VmIdentity): VmPolicy {
  return policy.overrides
    .map((override, order) => ({ override, order }))
    .filter(({ override }) => matches(override.match, vm))
    .sort((a, b) => specificity(a.override.match) - specificity(b.override.match) || a.order - b.order)
    .reduce((settings, { override }) => applyPatch(settings, override.patch), policy.defaults);
}
