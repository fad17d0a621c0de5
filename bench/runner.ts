// Runs benchmark suites in order and turns their lines into an exit code: 0 only when every
// promise measured was kept and every suite ran to its end, 1 otherwise.

import { type BenchLine, formatLine } from './line.js';

export interface Suite {
  run(): Promise<readonly BenchLine[]>;
}

export interface RunnerOutput {
  /** The report: suite headings, lines, the verdict. */
  readonly write: (text: string) => void;
  /** What a failed suite threw, with its stack. */
  readonly warn: (text: string) => void;
}

export async function runSuites(
  suites: Readonly<Record<string, () => Promise<Suite>>>,
  names: readonly string[],
  output: RunnerOutput,
): Promise<number> {
  let missed = 0;
  const failed: string[] = [];
  for (const name of names) {
    output.write(`## ${name}\n`);
    try {
      const load = suites[name];
      if (load === undefined) throw new Error(`no suite named ${name}`);
      for (const line of await (await load()).run()) {
        output.write(`${formatLine(line)}\n`);
        if (line.ok === false) missed++;
      }
    } catch (error) {
      // The other suites still run: one broken suite must not hide the others' numbers.
      failed.push(name);
      output.write(`FAILED: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
      output.warn(`bench ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
  }
  const problems = [
    ...(missed > 0 ? [`${missed} promise(s) missed`] : []),
    ...(failed.length > 0 ? [`suite(s) failed: ${failed.join(', ')}`] : []),
  ];
  output.write(`\n${problems.length === 0 ? 'every promise kept' : problems.join('; ')}\n`);
  return problems.length === 0 ? 0 : 1;
}
