// npm run bench: every performance promise of the project, measured in one run and printed as
// ratios against a baseline measured in the same run (these machines are shared and noisy).
// `npm run bench -- NAME…` runs only the named suites. Exit code: 0 when every promise measured
// was kept and every suite ran to its end, 1 otherwise, 2 for an unknown suite.

import type { SuiteName } from './goals.js';
import { runSuites, type Suite } from './runner.js';

const SUITES: Record<SuiteName, () => Promise<Suite>> = {
  digest: () => import('./digest-throughput.js'),
  instrument: () => import('./instrument-overhead.js'),
  shadowing: () => import('./shadowing.js'),
  checkpoints: () => import('./checkpoints.js'),
  service: () => import('./service.js'),
  qemu: () => import('./qemu.js'),
};

async function main(names: readonly string[]): Promise<number> {
  const unknown = names.filter((name) => !(name in SUITES));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown suite ${unknown.join(', ')}; suites are ${Object.keys(SUITES).join(', ')}\n`);
    return 2;
  }
  return runSuites(SUITES, names.length > 0 ? names : Object.keys(SUITES), {
    write: (text) => process.stdout.write(text),
    warn: (text) => process.stderr.write(text),
  });
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
