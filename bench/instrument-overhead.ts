// What epoch counting costs a running guest: real C programs built with clang, run bare and
// instrumented (an epoch every 10 M events, the epoch import doing nothing) in the same process,
// alternately, median of several runs each. Each guest is held to the overhead goal and to the
// build-time goal per MB of its module; the geometric mean over the guests is reported.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { instrumentModule } from '../src/drivers/wasm/instrument/instrument.js';
import { compileC, runGuest } from '../src/drivers/wasm/instrument/testing.js';
import { requireTool } from '../src/host-tools.js';
import { GOALS } from './goals.js';
import { type BenchLine, median } from './line.js';

const EPOCH_BUDGET = 10_000_000;
const REPS = 5;

/** A realistic mix: float loops, sorting through a comparator, byte loops, recursion. */
const GUESTS = [
  { name: 'numeric (mandelbrot)', source: 'numeric.c', args: ['1400'] },
  { name: 'sort (qsort + insertion sort)', source: 'sort.c', args: ['300000'] },
  { name: 'bytes (crc32 + hash-table lz77)', source: 'bytes.c', args: ['3000000'] },
  { name: 'recursion (queens, trees, fib-like)', source: 'recursion.c', args: ['12'] },
];

const SOURCES = new URL('../../bench/guests/', import.meta.url);

/** CPU time rather than wall time: on a shared machine, waiting for a core is not our cost. */
function cpuMs(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export async function run(): Promise<BenchLine[]> {
  requireTool('clang');
  const lines: BenchLine[] = [];
  const ratios: number[] = [];
  for (const guest of GUESTS) {
    const original = await compileC(await readFile(new URL(guest.source, SOURCES), 'utf8'));
    const instrumentMs = cpuMs(() => instrumentModule(original));
    const instrumented = instrumentModule(original);
    const bare = new WebAssembly.Module(original);
    const counted = new WebAssembly.Module(instrumented.bytes);
    const expected = runGuest(bare, { args: guest.args }).stdout; // also warms up both tiers
    const check = runGuest(counted, { args: guest.args, epochBudget: EPOCH_BUDGET });
    if (check.stdout !== expected) throw new Error(`${guest.source}: instrumented output differs`);
    const times = { bare: [] as number[], counted: [] as number[] };
    for (let rep = 0; rep < REPS; rep++) {
      times.bare.push(cpuMs(() => runGuest(bare, { args: guest.args })));
      times.counted.push(cpuMs(() => runGuest(counted, { args: guest.args, epochBudget: EPOCH_BUDGET })));
    }
    const ratio = median(times.counted) / median(times.bare);
    ratios.push(ratio);
    lines.push(
      { name: `${guest.name}: bare run`, value: median(times.bare), unit: 'ms' },
      { name: `${guest.name}: instrumented / bare (${check.epochs} epochs)`, value: ratio, unit: '×', goal: GOALS.instrumentOverhead },
      { name: `${guest.name}: instrumenting ${(original.length / 1024).toFixed(0)} KiB`, value: instrumentMs, unit: 'ms' },
      {
        name: `${guest.name}: instrumentation build per MB`,
        value: instrumentMs / 1000 / (original.length / 1e6),
        unit: 's/MB',
        goal: GOALS.instrumentBuild,
      },
    );
  }
  const overall = Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
  lines.push({ name: 'instrumentation overhead, geometric mean', value: overall, unit: '×' });
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { formatLine } = await import('./line.js');
  for (const line of await run()) console.log(formatLine(line));
}
