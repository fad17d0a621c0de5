import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyscallError } from './errors.js';
import { guestPathOf, resolvePath } from './paths.js';

const errnoOf = (run: () => unknown): number => {
  try {
    run();
  } catch (error) {
    if (error instanceof SyscallError) return error.errno;
    throw error;
  }
  return 0;
};

test('paths resolve lexically inside the preopen', () => {
  assert.deepEqual(resolvePath([], 'a/./b//c'), { segments: ['a', 'b', 'c'], mustBeDir: false });
  assert.deepEqual(resolvePath(['d'], 'x/../y/'), { segments: ['d', 'y'], mustBeDir: true });
  assert.deepEqual(resolvePath(['d'], '..'), { segments: [], mustBeDir: true });
  assert.deepEqual(resolvePath([], '.'), { segments: [], mustBeDir: true });
});

test('absolute paths and ".." above the preopen are not capable (76); empty is ENOENT (44)', () => {
  assert.equal(
    errnoOf(() => resolvePath([], '/etc/passwd')),
    76,
  );
  assert.equal(
    errnoOf(() => resolvePath([], '../x')),
    76,
  );
  assert.equal(
    errnoOf(() => resolvePath(['d'], 'a/../../../x')),
    76,
  );
  assert.equal(
    errnoOf(() => resolvePath([], '')),
    44,
  );
  assert.equal(
    errnoOf(() => resolvePath([], 'a\0b')),
    28,
  );
});

test('guest paths join the preopen name and the segments', () => {
  assert.equal(guestPathOf('/scratch', []), '/scratch');
  assert.equal(guestPathOf('/scratch', ['a', 'b']), '/scratch/a/b');
  assert.equal(guestPathOf('/', ['a']), '/a');
});
