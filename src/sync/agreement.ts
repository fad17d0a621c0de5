// How replicas agree at an epoch barrier, as one strategy per kind of driver. `exact`: replicas
// are deterministic (wasm, QEMU lockstep), so any difference of state is a fault and the vote
// decides who is at fault. `drift`: replicas run free beside each other (QEMU COLO-style) and
// differ benignly all the time, so the vote looks only at how they ended; their differences are
// features the analysis engine learns, and only drift beyond what it learned blames a replica.

import type { Agreement, EpochReport, VmEnd } from '../drivers/types.js';
import { describeEnd } from '../drivers/vm-end.js';
import { compareReports, isIdentical, missingState, type StateDifference, stateKey } from './compare.js';

/** One replica at the barrier: its report, or how it ended without one. */
export interface Standing {
  readonly name: string;
  readonly report?: EpochReport;
  readonly end?: VmEnd;
}

export interface Comparison {
  /** Vote keys by replica name (undefined: no state to vote with). */
  readonly keys: ReadonlyMap<string, string | undefined>;
  /** How each shadow differs from the primary, for shadows that differ at all. */
  readonly differences: ReadonlyMap<string, StateDifference>;
}

export interface AgreementStrategy {
  readonly kind: Agreement;
  compare(primary: Standing & { readonly report: EpochReport }, shadows: readonly Standing[]): Comparison;
}

/** Deterministic replicas: the whole state votes, and every difference is logged. */
export const exactAgreement: AgreementStrategy = {
  kind: 'exact',
  compare(primary, shadows) {
    const keys = new Map<string, string | undefined>([[primary.name, stateKey(primary.report)]]);
    const differences = new Map<string, StateDifference>();
    for (const shadow of shadows) {
      keys.set(shadow.name, shadow.report ? stateKey(shadow.report) : undefined);
      const difference = differenceOf(primary.report, shadow);
      if (!isIdentical(difference)) differences.set(shadow.name, difference);
    }
    return { keys, differences };
  },
};

/**
 * Free-running replicas finish at their own pace: having exited normally, or not yet, agrees with
 * the primary; a crash does not, nor another exit code once both have exited. Their differences
 * are kept (for the engine to learn) without the end, unless the end itself differs.
 */
export const driftAgreement: AgreementStrategy = {
  kind: 'drift',
  compare(primary, shadows) {
    const primaryEnd = primary.report.end;
    const primaryKey = endKey(primaryEnd, primaryEnd);
    const keys = new Map<string, string | undefined>([[primary.name, primaryKey]]);
    const differences = new Map<string, StateDifference>();
    for (const shadow of shadows) {
      const key = endKey(shadow.report ? shadow.report.end : shadow.end, primaryEnd);
      keys.set(shadow.name, key);
      const difference = differenceOf(primary.report, shadow);
      const counted = key === primaryKey ? { ...difference, end: undefined } : difference;
      if (!isIdentical(counted)) differences.set(shadow.name, counted);
    }
    return { keys, differences };
  },
};

export function agreementFor(kind: Agreement): AgreementStrategy {
  return kind === 'exact' ? exactAgreement : driftAgreement;
}

function differenceOf(primary: EpochReport, shadow: Standing): StateDifference {
  return shadow.report ? compareReports(primary, shadow.report) : missingState(primary, shadow.end);
}

function endKey(end: VmEnd | undefined, primaryEnd: VmEnd | undefined): string {
  if (end !== undefined && end.kind !== 'exit') return describeEnd(end);
  if (end?.kind === 'exit' && primaryEnd?.kind === 'exit' && end.code !== primaryEnd.code) return describeEnd(end);
  return 'normal';
}

/**
 * Free-running replicas whose drift the analysis judged a failure: which of them is at fault. When
 * every shadow drifts from the primary and there are several, the primary is (they agree with each
 * other, not with it); when only some do, they are; a single shadow against the primary cannot
 * say which side is wrong.
 */
export function driftBlame(
  primary: string,
  shadows: readonly string[],
  failing: readonly string[],
): { kind: 'primary' | 'shadows' | 'undecided'; blamed: string[] } {
  if (failing.length === 0) return { kind: 'shadows', blamed: [] };
  if (shadows.length === 1) return { kind: 'undecided', blamed: [] };
  if (failing.length === shadows.length) return { kind: 'primary', blamed: [primary] };
  return { kind: 'shadows', blamed: [...failing] };
}
