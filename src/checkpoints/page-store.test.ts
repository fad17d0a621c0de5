import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import type { SnapshotDelta, StateDigest } from '../drivers/types.js';
import { CheckpointNotFoundError } from '../store/errors.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { CheckpointCorruptError, CheckpointNotRestorableError, PageOutOfRangeError, PageSizeError } from './errors.js';
import { CheckpointStore } from './page-store.js';

const PAGE = 4096;
const dir = mkdtempSync(join(tmpdir(), 'shadowvm-checkpoints-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function freshPath(): string {
  return join(dir, `db-${files++}.db`);
}

/** A page whose every byte is `fill`, so contents are easy to tell apart. */
function page(fill: number): Uint8Array {
  return new Uint8Array(PAGE).fill(fill);
}

function snapshot(epoch: number, pageCount: number, changed: [number, Uint8Array][], registers = { pc: `${epoch}` }): SnapshotDelta {
  return { epoch, pageSize: PAGE, pageCount, changed: new Map(changed), registers, driverState: { tag: `e${epoch}` } };
}

function withStore<T>(path: string, use: (store: Store, checkpoints: CheckpointStore) => T): T {
  const store = openStore(path);
  try {
    return use(store, new CheckpointStore(store.checkpoints));
  } finally {
    store.close();
  }
}

function newComputation(store: Store): string {
  return store.computations.create({ name: 'x', image: 'x.wasm', config: null }).id;
}

test('a checkpoint reads back every page; unwritten pages read as zeros', () => {
  withStore(freshPath(), (store, checkpoints) => {
    const c = newComputation(store);
    const k = checkpoints.create(
      c,
      snapshot(1, 8, [
        [0, page(1)],
        [3, page(3)],
        [5, page(0)],
      ]),
    );
    assert.equal(k.changedPages, 2);
    assert.deepEqual(checkpoints.readPage(k.id, 3), page(3));
    assert.deepEqual(checkpoints.readPage(k.id, 5), page(0));
    assert.deepEqual(checkpoints.readPage(k.id, 7), page(0));
    assert.throws(() => checkpoints.readPage(k.id, 8), PageOutOfRangeError);
    assert.throws(() => checkpoints.readPage('k-missing', 0), CheckpointNotFoundError);
    assert.throws(() => checkpoints.create(c, snapshot(2, 8, [[9, page(1)]])), PageOutOfRangeError);
    assert.throws(() => checkpoints.create(c, snapshot(2, 8, [[1, new Uint8Array(10)]])), PageSizeError);
  });
});

test('a child stores only what changed and reads the rest through its parent', () => {
  withStore(freshPath(), (store, checkpoints) => {
    const c = newComputation(store);
    const pages = Array.from({ length: 64 }, (_, i): [number, Uint8Array] => [i, page(i + 1)]);
    const base = checkpoints.create(c, snapshot(1, 64, pages));
    assert.equal(store.checkpoints.pageStats().pages, 64);
    // The driver may report a page as changed although its content is what the parent holds.
    const child = checkpoints.create(
      c,
      snapshot(2, 64, [
        [10, page(200)],
        [11, page(12)],
      ]),
      base.id,
    );
    assert.equal(child.changedPages, 1);
    assert.equal(store.checkpoints.pageStats().pages, 65);
    assert.deepEqual(checkpoints.readPage(child.id, 10), page(200));
    assert.deepEqual(checkpoints.readPage(child.id, 63), page(64));
    assert.deepEqual(checkpoints.readPage(base.id, 10), page(11));
  });
});

test('the same content is stored once, across checkpoints and computations', () => {
  withStore(freshPath(), (store, checkpoints) => {
    const a = newComputation(store);
    const b = newComputation(store);
    checkpoints.create(
      a,
      snapshot(1, 4, [
        [0, page(9)],
        [1, page(9)],
      ]),
    );
    checkpoints.create(b, snapshot(1, 4, [[2, page(9)]]));
    assert.deepEqual(store.checkpoints.pageStats(), { pages: 1, bytes: PAGE });
  });
});

test('a fork is a view of the whole state; checkpoints made from it share the pages', () => {
  withStore(freshPath(), (store, checkpoints) => {
    const c = newComputation(store);
    const base = checkpoints.create(
      c,
      snapshot(
        4,
        32,
        Array.from({ length: 32 }, (_, i): [number, Uint8Array] => [i, page(i + 1)]),
      ),
    );
    const view = checkpoints.fork(base.id);
    assert.equal(view.checkpoint.epoch, 4);
    assert.deepEqual(view.readPage(31), page(32));
    const shadowA = checkpoints.create(c, snapshot(5, 32, [[0, page(100)]]), base.id);
    const shadowB = checkpoints.create(c, snapshot(5, 32, [[0, page(100)]]), base.id);
    assert.equal(store.checkpoints.pageStats().pages, 33);
    assert.equal(shadowA.rootDigest, shadowB.rootDigest);
    assert.notEqual(shadowA.rootDigest, base.rootDigest);
  });
});

test('equal states have equal root digests whatever their history', () => {
  withStore(freshPath(), (store, checkpoints) => {
    const c = newComputation(store);
    const direct = checkpoints.create(
      c,
      snapshot(2, 3000, [
        [0, page(1)],
        [2500, page(2)],
      ]),
    );
    const first = checkpoints.create(
      c,
      snapshot(1, 2000, [
        [0, page(1)],
        [1500, page(7)],
      ]),
    );
    const second = checkpoints.create(
      c,
      snapshot(2, 3000, [
        [1500, page(0)],
        [2500, page(2)],
      ]),
      first.id,
    );
    assert.equal(second.rootDigest, direct.rootDigest);
    const shrunk = checkpoints.create(c, snapshot(3, 1000, []), second.id);
    const regrown = checkpoints.create(c, snapshot(2, 3000, [[2500, page(2)]]), shrunk.id);
    assert.equal(regrown.rootDigest, direct.rootDigest);
  });
});

test('verified flags persist and the last verified checkpoint is the newest verified one', () => {
  const path = freshPath();
  const { c, ids } = withStore(path, (store, checkpoints) => {
    const c = newComputation(store);
    assert.equal(checkpoints.lastVerified(c), null);
    const k1 = checkpoints.create(c, snapshot(1, 4, [[0, page(1)]]));
    const k2 = checkpoints.create(c, snapshot(2, 4, [[1, page(2)]]), k1.id);
    const k3 = checkpoints.create(c, snapshot(3, 4, [[2, page(3)]]), k2.id);
    checkpoints.markVerified(k1.id);
    checkpoints.markVerified(k2.id);
    assert.equal(checkpoints.lastVerified(c)?.id, k2.id);
    return { c, ids: [k1.id, k2.id, k3.id] };
  });
  withStore(path, (_store, checkpoints) => {
    assert.deepEqual(
      checkpoints.list(c).map((k) => [k.id, k.verified]),
      [
        [ids[0], true],
        [ids[1], true],
        [ids[2], false],
      ],
    );
    assert.equal(checkpoints.lastVerified(c)?.id, ids[1]);
  });
});

test('after a restart the page tables are rebuilt from the store', () => {
  const path = freshPath();
  const digest: StateDigest = {
    pageSize: PAGE,
    pageHashes: new Uint8Array(4 * 16).fill(5),
    registers: { pc: '2' },
    outputs: { stdout: 'ab' },
  };
  const before = withStore(path, (store, checkpoints) => {
    const c = newComputation(store);
    const k1 = checkpoints.create(
      c,
      snapshot(1, 4, [
        [0, page(1)],
        [1, page(2)],
      ]),
    );
    return checkpoints.create(
      c,
      snapshot(2, 4, [
        [1, page(3)],
        [3, page(4)],
      ]),
      k1.id,
      digest,
    );
  });
  withStore(path, (_store, checkpoints) => {
    const k = checkpoints.get(before.id);
    assert.equal(k?.rootDigest, before.rootDigest);
    assert.equal(k?.changedPages, 2);
    assert.deepEqual(
      [0, 1, 2, 3].map((p) => checkpoints.readPage(before.id, p)[0]),
      [1, 3, 0, 4],
    );
    const target = checkpoints.restoreTarget(before.id);
    assert.equal(target.epoch, 2);
    assert.deepEqual(target.driverState, { tag: 'e2' });
    assert.deepEqual({ ...target.digest, pageHashes: [...target.digest.pageHashes] }, { ...digest, pageHashes: [...digest.pageHashes] });
    assert.deepEqual(target.readPage(3), page(4));
    assert.throws(() => checkpoints.restoreTarget(k?.parentId ?? ''), CheckpointNotRestorableError);
  });
});

test('a checkpoint whose stored page table was altered is reported as damaged', () => {
  const path = freshPath();
  const id = withStore(path, (store, checkpoints) => {
    const c = newComputation(store);
    return checkpoints.create(
      c,
      snapshot(1, 4, [
        [0, page(1)],
        [1, page(2)],
      ]),
    ).id;
  });
  const db = new Database(path);
  db.prepare('DELETE FROM checkpoint_pages WHERE checkpoint_id = ? AND page = 1').run(id);
  db.close();
  withStore(path, (_store, checkpoints) => {
    assert.throws(() => checkpoints.get(id), CheckpointCorruptError);
  });
});
