// Guest RAM as the host reads it: memory in use is the pages holding anything but zeros.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestPages, pageSize, pagesInUse, zeroPageDigest } from './ram.js';

test('pages in use are the pages that are not all zeros, wherever a byte is set', async () => {
  const memory = new Uint8Array(8 * pageSize);
  memory[0] = 1; // first byte of page 0
  memory[3 * pageSize + pageSize - 1] = 0x80; // last byte of page 3
  memory[6 * pageSize + 100] = 7;
  assert.equal(pagesInUse(await digestPages(memory), await zeroPageDigest()), 3);
  assert.equal(pagesInUse(await digestPages(new Uint8Array(4 * pageSize)), await zeroPageDigest()), 0);
});
