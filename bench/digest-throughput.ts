// Page digest throughput against memcpy of the same bytes, in the same run: every epoch digests
// all of guest memory, so the digest must run at a good fraction of memory speed (GOALS.digestThroughput).

import { fileURLToPath } from 'node:url';
import { createPageHasher, DIGEST_SIZE, PAGE_SIZE } from '../src/pages/hash/page-hasher.js';
import { GOALS } from './goals.js';
import { type BenchLine, median } from './line.js';
import { fillRandom } from './random.js';

const BYTES = 256 * 2 ** 20;
const REPS = 7;

/** GB/s of `work` over BYTES, one sample per call. */
function sample(work: () => void): number {
  const start = performance.now();
  work();
  return BYTES / ((performance.now() - start) / 1000) / 1e9;
}

export async function run(): Promise<BenchLine[]> {
  const memory = new WebAssembly.Memory({ initial: BYTES / 65536 });
  const guest = new Uint8Array(memory.buffer);
  fillRandom(guest, 12345);
  const pages = BYTES / PAGE_SIZE;
  const hasher = createPageHasher(memory);
  const digests = new Uint8Array(pages * DIGEST_SIZE);
  const copy = new Uint8Array(BYTES);
  const source = Buffer.from(memory.buffer);
  const target = Buffer.from(copy.buffer);

  const kinds = {
    digest: () => hasher.hashPages(0, pages, digests),
    set: () => copy.set(guest),
    bufferCopy: () => source.copy(target),
  };
  const samples: Record<keyof typeof kinds, number[]> = { digest: [], set: [], bufferCopy: [] };
  for (const work of Object.values(kinds)) work(); // warm-up: page faults, tier-up
  // Interleaved, so a noisy neighbour slows all three alike.
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, work] of Object.entries(kinds)) samples[name as keyof typeof kinds].push(sample(work));
  }
  const digest = median(samples.digest);
  const memcpy = Math.max(median(samples.set), median(samples.bufferCopy));
  return [
    { name: 'page digest, 256 MiB of guest memory (hashPages)', value: digest, unit: 'GB/s' },
    { name: 'memcpy of the same bytes (Uint8Array.set)', value: median(samples.set), unit: 'GB/s' },
    { name: 'memcpy of the same bytes (Buffer.copy)', value: median(samples.bufferCopy), unit: 'GB/s' },
    { name: GOALS.digestThroughput.promise, value: digest / memcpy, unit: '×', goal: GOALS.digestThroughput },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { formatLine } = await import('./line.js');
  for (const line of await run()) console.log(formatLine(line));
}
