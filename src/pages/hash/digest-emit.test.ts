import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIGEST_BINARIES } from './digest-binaries.js';
import { emitDigestBinaries } from './digest-emit.js';

test('the shipped digest binaries are what digest-wat.ts compiles to', () => {
  assert.deepEqual(
    emitDigestBinaries(),
    { ...DIGEST_BINARIES },
    'regenerate: node dist/src/pages/hash/digest-emit.js > src/pages/hash/digest-binaries.ts',
  );
});
