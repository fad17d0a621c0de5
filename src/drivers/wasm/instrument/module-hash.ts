// The module hash: names a guest module (reports, the instrumentation cache) and checks the
// cache's integrity. Kept apart from instrument.ts so a cache hit never loads binaryen (~0.5 s).

import { createHash } from 'node:crypto';

/** Hex sha256 of the bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
