// One line of benchmark output: a measured value, and the promise it is checked against.

export interface BenchLine {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The promise, e.g. "≤ 1.15". */
  readonly goal?: string;
  readonly ok?: boolean;
}

export function formatLine(line: BenchLine): string {
  const value = Number.isInteger(line.value) ? String(line.value) : line.value.toPrecision(4);
  const verdict = line.ok === undefined ? '' : line.ok ? '  ok' : '  MISSED';
  return `${line.name.padEnd(58)} ${`${value} ${line.unit}`.padEnd(18)}${line.goal ? ` goal ${line.goal}` : ''}${verdict}`;
}

/** Median of repeated measurements: these machines are shared and noisy. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
