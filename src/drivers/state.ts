// Whether two replicas' states are the same, from their digests alone: every page digest, every
// register, every output stream's running digest. Drivers use it to verify a restore.

import type { StateDigest } from './types.js';

export function sameState(a: StateDigest, b: StateDigest): boolean {
  if (a.pageSize !== b.pageSize || Buffer.compare(a.pageHashes, b.pageHashes) !== 0) return false;
  return sameRecord(a.registers, b.registers) && sameRecord(a.outputs, b.outputs);
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
