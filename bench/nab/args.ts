// Command line of the NAB harness: --data <dir> [--out <dir>] [--plugin <module>]... [--detectors a,b]

import { ShadowvmError } from '../../src/errors.js';

export class UsageError extends ShadowvmError {
  constructor(problem: string) {
    super('usage', `${problem} (usage: bench:nab -- --data <NAB dir> [--out <results dir>] [--plugin <module.mjs>] [--detectors a,b])`);
  }
}

export interface HarnessArgs {
  readonly data: string;
  readonly out: string;
  readonly plugins: readonly string[];
  /** Empty: every built-in detector. */
  readonly detectors: readonly string[];
}

export function parseArgs(argv: readonly string[]): HarnessArgs {
  let data: string | undefined;
  let out = 'results';
  const plugins: string[] = [];
  let detectors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (!['--data', '--out', '--plugin', '--detectors'].includes(flag)) throw new UsageError(`unknown argument "${flag}"`);
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    i++;
    if (flag === '--data') data = value;
    else if (flag === '--out') out = value;
    else if (flag === '--plugin') plugins.push(value);
    else detectors = value.split(',').filter((d) => d.length > 0);
  }
  if (data === undefined) throw new UsageError('--data is required');
  return { data, out, plugins, detectors };
}
