// node dist/bench/nab/loco.js --data <NAB dir> --detector <name> [--grid '{"option":[v1,v2],...}']
// Runs the detector with every combination of the grid's options, prints each one's whole-corpus
// scores, then the leave-one-category-out table (settings and thresholds chosen on the other
// categories; see src/analysis/nab/loco.ts).

import { z } from 'zod';
import { loadNabCorpus } from '../../src/analysis/nab/corpus.js';
import { type Candidate, leaveOneCategoryOut } from '../../src/analysis/nab/loco.js';
import { createDetector } from '../../src/analysis/registry.js';
import { isShadowvmError } from '../../src/errors.js';
import { UsageError } from './args.js';
import { runDetector } from './run.js';

const gridSchema = z.record(z.string(), z.array(z.json()).min(1));

interface LocoArgs {
  readonly data: string;
  readonly detector: string;
  readonly grid: z.infer<typeof gridSchema>;
}

function parseLocoArgs(argv: readonly string[]): LocoArgs {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (!['--data', '--detector', '--grid'].includes(flag)) throw new UsageError(`unknown argument "${flag}"`);
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    values.set(flag, value);
  }
  const data = values.get('--data');
  const detector = values.get('--detector');
  if (data === undefined || detector === undefined) throw new UsageError('loco needs --data and --detector');
  let grid: unknown;
  try {
    grid = JSON.parse(values.get('--grid') ?? '{}');
  } catch {
    throw new UsageError('--grid must be JSON: {"option": [value, ...], ...}');
  }
  const parsed = gridSchema.safeParse(grid);
  if (!parsed.success) throw new UsageError('--grid must map each option to a non-empty list of values');
  return { data, detector, grid: parsed.data };
}

/** Every combination of the grid's values, one options object each. */
function combinations(grid: LocoArgs['grid']): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) out = out.flatMap((o) => values.map((v) => ({ ...o, [key]: v })));
  return out;
}

const fmt = (n: number | null, fp: number): string => (n === null ? `fp ${fp}` : n.toFixed(1));

function main(argv: readonly string[]): void {
  const args = parseLocoArgs(argv);
  const corpus = loadNabCorpus(args.data);
  const candidates: Candidate[] = combinations(args.grid).map((options) => {
    createDetector(args.detector, options); // a typo fails here, with the detector's own message
    const label = JSON.stringify(options);
    const run = runDetector(label, (o) => createDetector(args.detector, { ...options, ...o }), corpus);
    const r = run.results;
    console.log(
      `${label}  ${r.standard.normalised.toFixed(1)} / ${r.reward_low_FP_rate.normalised.toFixed(1)} / ${r.reward_low_FN_rate.normalised.toFixed(1)}`,
    );
    return { label, files: corpus.files.map((series, i) => ({ series, scores: run.scores[i]! })) };
  });
  console.log('\nheld-out category       standard  low-FP  low-FN  (settings chosen on the other categories)');
  for (const r of leaveOneCategoryOut(candidates, corpus.profiles)) {
    const s = r.scores;
    const cells = [s.standard, s.reward_low_FP_rate, s.reward_low_FN_rate].map((x) => fmt(x.normalised, x.fp).padStart(7));
    console.log(`${r.category.padEnd(22)} ${cells.join(' ')}   ${r.chosen}`);
  }
}

try {
  main(process.argv.slice(2));
} catch (error) {
  if (!isShadowvmError(error)) throw error;
  console.error(error.message);
  process.exit(error.exitCode);
}
