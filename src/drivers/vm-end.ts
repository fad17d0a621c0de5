// How a VM ended, in one line for people (reports, logs, comparisons of two replicas' ends).

import type { VmEnd } from './types.js';

/** "exit 0", "trap: unreachable", …; "running" for a VM that has not ended. */
export function describeEnd(end: VmEnd | undefined): string {
  if (!end) return 'running';
  return end.kind === 'exit' ? `exit ${end.code}` : `${end.kind}: ${end.message}`;
}
