import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHUNK_PAGES, PageTable } from './page-table.js';

const GIB_OF_PAGES = (1 << 30) / 4096;

function full(pageCount: number): PageTable {
  return PageTable.empty().with(
    pageCount,
    Array.from({ length: pageCount }, (_, page) => [page, page + 1] as const),
  );
}

test('a derived table shares every chunk it does not change', () => {
  const base = full(GIB_OF_PAGES);
  const child = base.with(GIB_OF_PAGES, [
    [5, 99],
    [CHUNK_PAGES * 100 + 3, 42],
  ]);
  const shared = child.chunks.filter((chunk, i) => chunk === base.chunks[i]).length;
  assert.equal(shared, base.chunks.length - 2);
  assert.equal(child.get(5), 99);
  assert.equal(base.get(5), 6);
  assert.equal(child.get(CHUNK_PAGES * 100 + 3), 42);
  assert.equal(child.get(GIB_OF_PAGES - 1), GIB_OF_PAGES);
});

test('a fork with no changes shares all of its parent', () => {
  const base = full(3000);
  const fork = base.with(3000, []);
  assert.ok(fork.chunks.every((chunk, i) => chunk === base.chunks[i]));
});

test('growing adds zero pages; shrinking drops the pages past the end', () => {
  const base = full(1500);
  const grown = base.with(5000, [[4999, 7]]);
  assert.deepEqual([grown.get(1499), grown.get(1500), grown.get(3000), grown.get(4999)], [1500, 0, 0, 7]);
  const shrunk = base.with(1100, []);
  const regrown = shrunk.with(1500, []);
  assert.deepEqual([regrown.get(1099), regrown.get(1100), regrown.get(1499)], [1100, 0, 0]);
});
