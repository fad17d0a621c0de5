// npm run bench:nab -- --data <dir> [--out <results dir>] [--plugin path.mjs]
// Runs every built-in detector (and plug-ins) over a NAB-layout directory, writes NAB-style
// result files and prints: detector | standard | low-FP | low-FN | points/s.

import type { DetectorFactory } from '../../src/analysis/detector.js';
import { loadNabCorpus } from '../../src/analysis/nab/corpus.js';
import { createDetector, detectorNames, loadPlugin } from '../../src/analysis/registry.js';
import { isShadowvmError } from '../../src/errors.js';
import { parseArgs } from './args.js';
import { type DetectorRun, runDetector, writeResults } from './run.js';

function formatTable(runs: readonly DetectorRun[]): string {
  const header = ['detector', 'standard', 'low-FP', 'low-FN', 'points/s'];
  const rows = runs.map((r) => [
    r.detector,
    r.results.standard.normalised.toFixed(1),
    r.results.reward_low_FP_rate.normalised.toFixed(1),
    r.results.reward_low_FN_rate.normalised.toFixed(1),
    Math.round(r.pointsPerSecond).toLocaleString('en-US'),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  const corpus = loadNabCorpus(args.data);
  const detectors: [string, DetectorFactory][] = (args.detectors.length > 0 ? args.detectors : detectorNames()).map((name) => {
    createDetector(name); // fail early, with the list of known names, on a typo
    return [name, (o?: Record<string, unknown>) => createDetector(name, o)];
  });
  for (const path of args.plugins) {
    const { name, factory } = await loadPlugin(path);
    detectors.push([name, factory]);
  }
  const runs = detectors.map(([name, factory]) => {
    const run = runDetector(name, factory, corpus);
    writeResults(args.out, run, corpus);
    return run;
  });
  const windows = corpus.files.reduce((n, f) => n + f.windows.length, 0);
  console.log(`NAB: ${corpus.files.length} files, ${windows} windows; results in ${args.out}/`);
  console.log(formatTable(runs));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isShadowvmError(error)) {
    console.error(error.message);
    process.exit(error.exitCode);
  }
  throw error;
});
