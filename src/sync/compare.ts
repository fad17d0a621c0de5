// How a shadow's state differs from the primary's at one epoch, from their reports alone (no page
// reads): the differing pages, registers/globals, output streams, and how each side ended.

import type { OutputMismatch, RegisterDiff } from '../difflog/types.js';
import type { EpochReport, VmEnd } from '../drivers/types.js';
import { describeEnd } from '../drivers/vm-end.js';
import { diffPageHashes } from '../pages/diff.js';

export interface StateDifference {
  readonly pages: number[];
  readonly registers: RegisterDiff[];
  readonly outputs: OutputMismatch[];
  /** Set when one replica ended in this epoch and the other did not, or ended differently. */
  readonly end?: { readonly primary: string; readonly shadow: string };
}

function differing(
  primary: Readonly<Record<string, string>>,
  shadow: Readonly<Record<string, string>>,
): { name: string; primary: string | null; shadow: string | null }[] {
  const names = [...new Set([...Object.keys(primary), ...Object.keys(shadow)])].sort();
  return names
    .filter((name) => primary[name] !== shadow[name])
    .map((name) => ({ name, primary: primary[name] ?? null, shadow: shadow[name] ?? null }));
}

export function compareReports(primary: EpochReport, shadow: EpochReport): StateDifference {
  const primaryEnd = describeEnd(primary.end);
  const shadowEnd = describeEnd(shadow.end);
  return {
    pages: diffPageHashes(primary.digest.pageHashes, shadow.digest.pageHashes),
    registers: differing(primary.digest.registers, shadow.digest.registers),
    outputs: differing(primary.digest.outputs, shadow.digest.outputs).map(({ name, ...sides }) => ({ stream: name, ...sides })),
    ...(primaryEnd !== shadowEnd ? { end: { primary: primaryEnd, shadow: shadowEnd } } : {}),
  };
}

/** The difference of a shadow that gave no state at this epoch (it ended early or diverged on an input). */
export function missingState(primary: EpochReport, shadowEnd: VmEnd | undefined): StateDifference {
  return { pages: [], registers: [], outputs: [], end: { primary: describeEnd(primary.end), shadow: describeEnd(shadowEnd) } };
}

export function isIdentical(difference: StateDifference): boolean {
  return (
    difference.pages.length === 0 && difference.registers.length === 0 && difference.outputs.length === 0 && difference.end === undefined
  );
}

/** A key for "same state": replicas whose reports have equal keys agree. */
export function stateKey(report: Pick<EpochReport, 'digest' | 'end'>): string {
  const registers = Object.entries(report.digest.registers).sort(([a], [b]) => a.localeCompare(b));
  const outputs = Object.entries(report.digest.outputs).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([Buffer.from(report.digest.pageHashes).toString('base64'), registers, outputs, describeEnd(report.end)]);
}
