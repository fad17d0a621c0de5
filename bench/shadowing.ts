// The cost of shadowing a real computation (guests/bin/pipeline.wasm, ~8 s: long enough that the
// fixed start-up of ~0.3 s does not dominate, as it would not for the long runs shadowvm is for),
// measured in one run:
// the guest bare (our WASI, no instrumentation, no epochs), under shadowvm with no shadow, and
// with one shadow; and the size of the differential log against full captures.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ComputationConfig, DEFAULT_CONFIG } from '../src/computation/config.js';
import { launch } from '../src/computation/launch.js';
import type { ComputationReport } from '../src/computation/report.js';
import { wasmComputation } from '../src/computation/spec.js';
import { createWasi, ProcExit } from '../src/drivers/wasm/wasi/index.js';
import { openStore } from '../src/store/open.js';
import { GOALS } from './goals.js';
import { type BenchLine, median } from './line.js';

const PIPELINE = fileURLToPath(new URL('../../guests/bin/pipeline.wasm', import.meta.url));
const ARGS = ['42', '1600000'];
const REPS = 3;

/** The guest alone: uninstrumented module, our WASI layer recording nothing, output dropped. */
async function bare(): Promise<number> {
  const module = await WebAssembly.compile(readFileSync(PIPELINE));
  const start = performance.now();
  const wasi = createWasi({
    args: ['pipeline.wasm', ...ARGS],
    env: {},
    stdin: { read: () => 0 },
    gate: { take: (_kind, live) => live() },
    output: () => {},
  });
  const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.imports } as WebAssembly.Imports);
  wasi.bind(instance.exports.memory as WebAssembly.Memory);
  try {
    (instance.exports._start as () => void)();
  } catch (error) {
    if (!(error instanceof ProcExit) || error.code !== 0) throw error;
  }
  wasi.close();
  return performance.now() - start;
}

async function shadowed(shadows: number): Promise<{ ms: number; report: ComputationReport }> {
  const store = openStore(':memory:');
  const config: ComputationConfig = { ...DEFAULT_CONFIG, shadows };
  const start = performance.now();
  try {
    const report = await launch({
      spec: wasmComputation({ module: PIPELINE, args: ARGS, config }),
      store,
      sink: { write: () => {} },
      writeLine: () => {},
    });
    const ms = performance.now() - start;
    // A timing of a run that did not finish correctly means nothing.
    if (report.exitCode !== 0 || report.divergences.length > 0)
      throw new Error(`bench run ended ${report.end} with ${report.divergences.length} divergences`);
    return { ms, report };
  } finally {
    store.close();
  }
}

export async function run(): Promise<BenchLine[]> {
  const bareMs: number[] = [];
  const aloneMs: number[] = [];
  const oneMs: number[] = [];
  let report: ComputationReport | undefined;
  // Interleaved, so that a burst of load from elsewhere hits all three alike.
  for (let rep = 0; rep < REPS; rep++) {
    bareMs.push(await bare());
    aloneMs.push((await shadowed(0)).ms);
    const one = await shadowed(1);
    oneMs.push(one.ms);
    report = one.report;
  }
  const [b, a, o] = [median(bareMs), median(aloneMs), median(oneMs)];
  const log = report?.log ?? { bytesLogged: 0, fullCaptureBytes: 1 };
  return [
    { name: 'pipeline bare (our WASI, no instrumentation)', value: Math.round(b), unit: 'ms' },
    { name: 'pipeline under shadowvm, 0 shadows', value: Math.round(a), unit: 'ms' },
    { name: 'pipeline under shadowvm, 1 shadow', value: Math.round(o), unit: 'ms' },
    { name: GOALS.shadowedWallTime.promise, value: o / b, unit: '×', goal: GOALS.shadowedWallTime },
    { name: 'shadowed (1 shadow) / unshadowed under shadowvm', value: o / a, unit: '×' },
    { name: 'epochs in the shadowed run', value: report?.epochs ?? 0, unit: 'epochs' },
    { name: GOALS.logBytes.promise, value: log.bytesLogged / Math.max(1, log.fullCaptureBytes), unit: '×', goal: GOALS.logBytes },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { formatLine } = await import('./line.js');
  for (const line of await run()) console.log(formatLine(line));
}
