// Runs one detector over a NAB corpus: a fresh instance per file, scores every row, times only
// the update() calls, and scores the result under each cost profile. An untimed pass over the
// corpus comes first, so points/s is the steady-state rate of a long-running stream, not V8's
// compilation of the detector (on a shared, loaded host the cold pass varied 10x between runs).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DetectorFactory } from '../../src/analysis/detector.js';
import type { NabCorpus, NabFile } from '../../src/analysis/nab/corpus.js';
import { PROFILE_NAMES, type ProfileName } from '../../src/analysis/nab/profiles.js';
import { type CorpusResult, scoreCorpus } from '../../src/analysis/nab/scorer.js';

export interface DetectorRun {
  readonly detector: string;
  readonly scores: readonly Float64Array[];
  readonly results: Readonly<Record<ProfileName, CorpusResult>>;
  readonly pointsPerSecond: number;
}

export function runDetector(detector: string, factory: DetectorFactory, corpus: NabCorpus): DetectorRun {
  scoreCorpusFiles(factory, corpus);
  const { scores, elapsedNs, points } = scoreCorpusFiles(factory, corpus);
  const pairs = corpus.files.map((series, i) => ({ series, scores: scores[i]! }));
  const results = Object.fromEntries(PROFILE_NAMES.map((p) => [p, scoreCorpus(pairs, corpus.profiles[p])])) as Record<
    ProfileName,
    CorpusResult
  >;
  const seconds = Number(elapsedNs) / 1e9;
  return { detector, scores, results, pointsPerSecond: seconds > 0 ? points / seconds : Infinity };
}

function scoreCorpusFiles(factory: DetectorFactory, corpus: NabCorpus): { scores: Float64Array[]; elapsedNs: bigint; points: number } {
  let elapsedNs = 0n;
  let points = 0;
  const scores = corpus.files.map((file) => {
    const instance = factory();
    const out = new Float64Array(file.rowCount);
    const { values, timestampsMs } = file;
    const start = process.hrtime.bigint();
    for (let i = 0; i < out.length; i++) out[i] = instance.update(values[i]!, timestampsMs[i]);
    elapsedNs += process.hrtime.bigint() - start;
    points += out.length;
    return out;
  });
  return { scores, elapsedNs, points };
}

function inWindow(file: NabFile, row: number): boolean {
  return file.windows.some(([s, e]) => row >= s && row <= e);
}

/** results/<detector>/<category>/<detector>_<file>.csv, NAB's own layout and columns. */
export function writeResults(outDir: string, run: DetectorRun, corpus: NabCorpus): void {
  corpus.files.forEach((file, f) => {
    const dir = join(outDir, run.detector, file.category);
    mkdirSync(dir, { recursive: true });
    const scores = run.scores[f]!;
    const lines = ['timestamp,value,anomaly_score,label'];
    for (let i = 0; i < file.rowCount; i++) lines.push(`${file.timestamps[i]},${file.values[i]},${scores[i]},${inWindow(file, i) ? 1 : 0}`);
    writeFileSync(join(dir, `${run.detector}_${file.file}`), `${lines.join('\n')}\n`);
  });
}
