// Checkpoint costs, measured with the real page hasher, checkpoint store and SQLite:
// - fork of a checkpointed 1 GiB VM (copy-on-write page table: nothing is copied);
// - the pause a checkpoint adds for a 256 MiB VM with 1% of its pages dirty: find the changed
//   pages from this epoch's digests and copy them (storing them happens once the VMs resumed);
// - the per-epoch digest of those 256 MiB, which every epoch pays whether or not it checkpoints.

import { fileURLToPath } from 'node:url';
import { CheckpointStore } from '../src/checkpoints/page-store.js';
import type { SnapshotDelta } from '../src/drivers/types.js';
import { copyPages } from '../src/drivers/wasm/replica.js';
import { diffPageHashes } from '../src/pages/diff.js';
import { createPageHasher, PAGE_SIZE } from '../src/pages/hash/page-hasher.js';
import { openStore } from '../src/store/open.js';
import { GOALS } from './goals.js';
import { type BenchLine, median } from './line.js';
import { fillRandom } from './random.js';

const MiB = 2 ** 20;

export async function run(): Promise<BenchLine[]> {
  const store = openStore(':memory:');
  const checkpoints = new CheckpointStore(store.checkpoints);
  const computation = store.computations.create({ name: 'bench', image: 'bench', config: {} });
  try {
    // Fork of a 1 GiB VM: a checkpoint whose page table covers 262 144 pages.
    const gibPages = 2 ** 30 / PAGE_SIZE;
    const sparse = new Map<number, Uint8Array>();
    for (let page = 0; page < gibPages; page += 4096) sparse.set(page, new Uint8Array(PAGE_SIZE).fill(page & 0xff));
    const gib = checkpoints.create(computation.id, {
      epoch: 1,
      pageSize: PAGE_SIZE,
      pageCount: gibPages,
      changed: sparse,
      registers: {},
      driverState: {},
    });
    const forkMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = performance.now();
      const view = checkpoints.fork(gib.id);
      view.readPage(gibPages - 1);
      forkMs.push(performance.now() - start);
    }

    // Checkpoint pause of a 256 MiB VM with 1% of its pages dirty since the last checkpoint.
    const memory = new WebAssembly.Memory({ initial: (256 * MiB) / 65536 });
    const bytes = new Uint8Array(memory.buffer);
    fillRandom(bytes, 7);
    const hasher = createPageHasher(memory);
    const pageCount = bytes.length / PAGE_SIZE;
    const base = new Uint8Array(pageCount * 16);
    hasher.hashPages(0, pageCount, base);
    const all = new Map<number, Uint8Array>();
    for (let page = 0; page < pageCount; page++) all.set(page, bytes.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE));
    let parent = checkpoints.create(computation.id, {
      epoch: 2,
      pageSize: PAGE_SIZE,
      pageCount,
      changed: all,
      registers: {},
      driverState: {},
    });
    all.clear();
    const pauseMs: number[] = [];
    const digestMs: number[] = [];
    const persistMs: number[] = [];
    const current = new Uint8Array(pageCount * 16);
    for (let rep = 0; rep < 15; rep++) {
      for (let i = 0; i < pageCount / 100; i++) {
        const page = (i * 97 + rep * 13) % pageCount;
        const at = page * PAGE_SIZE + rep;
        bytes[at] = (bytes[at] ?? 0) ^ 0xff;
      }
      let start = performance.now();
      hasher.hashPages(0, pageCount, current);
      digestMs.push(performance.now() - start);
      start = performance.now();
      const changed = new Map<number, Uint8Array>();
      copyPages(bytes, diffPageHashes(base, current), changed);
      pauseMs.push(performance.now() - start);
      // Persisting happens after the VMs resumed (see Computation.commit): not part of the pause.
      start = performance.now();
      const delta: SnapshotDelta = { epoch: 3 + rep, pageSize: PAGE_SIZE, pageCount, changed, registers: {}, driverState: {} };
      parent = checkpoints.create(computation.id, delta, parent.id);
      persistMs.push(performance.now() - start);
      base.set(current);
    }
    return [
      { name: GOALS.forkTime.promise, value: median(forkMs), unit: 'ms', goal: GOALS.forkTime },
      { name: GOALS.checkpointPause.promise, value: median(pauseMs), unit: 'ms', goal: GOALS.checkpointPause },
      { name: 'checkpoint persist, 1% of 256 MiB to SQLite (VMs already running)', value: median(persistMs), unit: 'ms' },
      { name: 'per-epoch digest of 256 MiB (paid every epoch, not per checkpoint)', value: median(digestMs), unit: 'ms' },
    ];
  } finally {
    store.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { formatLine } = await import('./line.js');
  for (const line of await run()) console.log(formatLine(line));
}
