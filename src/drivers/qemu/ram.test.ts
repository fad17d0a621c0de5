// Guest RAM as the host reads it: memory in use is the pages holding anything but zeros.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pagesInUse } from '../../pages/digest.js';
import { pageSize, RamFile } from './ram.js';

/** Page digests of `memory` as the driver takes them: the RAM file read into a page image. */
function digestOfRamFile(memory: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-ram-'));
  try {
    const path = join(dir, 'guest.ram');
    writeFileSync(path, memory);
    return new RamFile(path).readImage().digest();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('pages in use are the pages that are not all zeros, wherever a byte is set', () => {
  const memory = new Uint8Array(8 * pageSize);
  memory[0] = 1; // first byte of page 0
  memory[3 * pageSize + pageSize - 1] = 0x80; // last byte of page 3
  memory[6 * pageSize + 100] = 7;
  assert.equal(pagesInUse(digestOfRamFile(memory)), 3);
  assert.equal(pagesInUse(digestOfRamFile(new Uint8Array(4 * pageSize))), 0);
});
