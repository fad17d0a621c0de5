// npm run bench: every performance promise of the project, measured in one run and printed as
// ratios against a baseline measured in the same run (these machines are shared and noisy).
// `npm run bench -- NAME…` runs only the named suites.

import { type BenchLine, formatLine } from './line.js';

const SUITES: Record<string, () => Promise<{ run: () => Promise<readonly BenchLine[]> }>> = {
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
  let missed = 0;
  for (const name of names.length > 0 ? names : Object.keys(SUITES)) {
    process.stdout.write(`## ${name}\n`);
    const suite = await (SUITES[name] as () => Promise<{ run: () => Promise<readonly BenchLine[]> }>)();
    for (const line of await suite.run()) {
      process.stdout.write(`${formatLine(line)}\n`);
      if (line.ok === false) missed++;
    }
  }
  process.stdout.write(`\n${missed === 0 ? 'every promise kept' : `${missed} promise(s) missed`}\n`);
  return 0;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
