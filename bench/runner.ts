// Runs benchmark suites in order and turns their lines into an exit code: 0 only when every
// promise was kept and every suite ran to its end and measured each promise goals.ts gives it,
// 1 otherwise.

import { ALL_GOALS } from './goals.js';
import { type BenchLine, formatLine, missesGoal } from './line.js';

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
      const lines = await (await load()).run();
      for (const line of lines) {
        output.write(`${formatLine(line)}\n`);
        if (missesGoal(line)) missed++;
      }
      // A promise the table says this suite measures, but no line checked: it would pass unseen.
      const unmeasured = ALL_GOALS.filter(
        (goal) => 'suite' in goal.measuredBy && goal.measuredBy.suite === name && !lines.some((line) => line.goal === goal),
      );
      if (unmeasured.length > 0) throw new Error(`no line measured ${unmeasured.map((goal) => goal.id).join(', ')}`);
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
