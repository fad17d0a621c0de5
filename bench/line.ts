// One line of benchmark output: a measured value, and the promise it is checked against.

import { type Goal, goalText, meets } from './goals.js';

export interface BenchLine {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The promise this value is checked against; informational lines have none. */
  readonly goal?: Goal;
}

/** Whether the line breaks its promise (false for a line without one). */
export function missesGoal(line: BenchLine): boolean {
  return line.goal !== undefined && !meets(line.goal, line.value);
}

export function formatLine(line: BenchLine): string {
  const value = Number.isInteger(line.value) ? String(line.value) : line.value.toPrecision(4);
  const verdict = line.goal === undefined ? '' : missesGoal(line) ? '  MISSED' : '  ok';
  return `${line.name.padEnd(58)} ${`${value} ${line.unit}`.padEnd(18)}${line.goal ? ` goal ${goalText(line.goal)}` : ''}${verdict}`;
}

/** Median of repeated measurements: these machines are shared and noisy. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
