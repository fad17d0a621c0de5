import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import binaryen from 'binaryen';
import { cacheFileFor, defaultCacheDir, loadInstrumented } from './cache.js';
import { NotWasmError } from './errors.js';
import { instrumentModule } from './instrument.js';
import { sha256Hex } from './module-hash.js';

/** A command with a counted loop and a mutable global, so the output is not trivial. */
const GUEST = `(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "_start") (local $i i32)
    (loop $again
      (global.set $g (i32.add (global.get $g) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 10))))))`;

function guestBytes(): Uint8Array<ArrayBuffer> {
  const module = binaryen.parseText(GUEST);
  try {
    module.setFeatures(binaryen.Features.MutableGlobals);
    return new Uint8Array(module.emitBinary());
  } finally {
    module.dispose();
  }
}

describe('loadInstrumented', () => {
  let dir: string;
  const bytes = guestBytes();
  const file = (): string => cacheFileFor(sha256Hex(bytes), dir);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shadowvm-cache-test-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the first load instruments and writes the cache file, leaving no temporary file', async () => {
    const loaded = await loadInstrumented(bytes, dir);
    assert.deepEqual(loaded, instrumentModule(bytes));
    assert.deepEqual(await readdir(dir), [file().slice(dir.length + 1)]);
  });

  test('the second load is a read of that file', async () => {
    // Mark the cached header (same length, so the file stays well-formed): only a load that reads
    // the file can return the mark.
    const data = await readFile(file());
    const marked = data.toString('latin1').replace('"globals":["__shadowvm_g0"]', '"globals":["marked_global"]');
    assert.notEqual(marked, data.toString('latin1'));
    await writeFile(file(), Buffer.from(marked, 'latin1'));
    assert.deepEqual((await loadInstrumented(bytes, dir)).globals, ['marked_global']);
  });

  test('a damaged cache file is ignored and rewritten', async () => {
    const good = instrumentModule(bytes);
    const data = await readFile(file());
    data[data.length - 1]! ^= 0xff; // the module bytes no longer match their recorded hash
    await writeFile(file(), data);
    assert.deepEqual(await loadInstrumented(bytes, dir), good);
    await writeFile(file(), 'not a cache file');
    assert.deepEqual(await loadInstrumented(bytes, dir), good);
    assert.deepEqual((await loadInstrumented(bytes, dir)).globals, good.globals);
  });

  test('an unwritable cache directory still gives the instrumented module', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, '');
    assert.deepEqual(await loadInstrumented(bytes, join(blocker, 'cache')), instrumentModule(bytes));
  });

  test('a bad module fails with its typed error and writes nothing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'shadowvm-cache-test-'));
    try {
      await assert.rejects(loadInstrumented(new Uint8Array([1, 2, 3]), empty), NotWasmError);
      assert.deepEqual(await readdir(empty), []);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  test('the default directory is $SHADOWVM_CACHE when set', () => {
    const previous = process.env.SHADOWVM_CACHE;
    try {
      process.env.SHADOWVM_CACHE = '/somewhere/cache';
      assert.equal(defaultCacheDir(), '/somewhere/cache');
      delete process.env.SHADOWVM_CACHE;
      assert.match(defaultCacheDir(), /[/\\]\.cache[/\\]shadowvm[/\\]instrumented$/);
    } finally {
      if (previous === undefined) delete process.env.SHADOWVM_CACHE;
      else process.env.SHADOWVM_CACHE = previous;
    }
  });
});
