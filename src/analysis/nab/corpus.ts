// Reads a NAB-layout directory: data/<category>/<file>.csv (timestamp,value) plus
// labels/combined_windows.json ([start, end] timestamps per file) and config/profiles.json.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ShadowvmError } from '../../errors.js';
import { type CostProfile, NAB_PROFILES, type ProfileName, profilesFromFile } from './profiles.js';
import type { LabelledSeries } from './scorer.js';

export class NabCorpusError extends ShadowvmError {
  constructor(problem: string) {
    super('bad-nab-corpus', `NAB data: ${problem}`);
  }
}

export interface NabFile extends LabelledSeries {
  /** "category/file.csv", the key NAB uses in its label files. */
  readonly name: string;
  readonly category: string;
  readonly file: string;
  readonly timestamps: readonly string[];
  readonly timestampsMs: Float64Array;
  readonly values: Float64Array;
}

export interface NabCorpus {
  readonly files: readonly NabFile[];
  readonly profiles: Readonly<Record<ProfileName, CostProfile>>;
}

const windowsSchema = z.record(z.string(), z.array(z.tuple([z.string(), z.string()])));

/** "2014-04-10 07:15:00.000000" or "2014-04-10 07:15:00" → ms since epoch, read as UTC. */
export function parseNabTime(text: string): number {
  const ms = Date.parse(
    `${text
      .trim()
      .replace(' ', 'T')
      .replace(/\.\d+$/, '')}Z`,
  );
  if (Number.isNaN(ms)) throw new NabCorpusError(`unreadable timestamp "${text}"`);
  return ms;
}

function readSeries(path: string): { timestamps: string[]; timestampsMs: Float64Array; values: Float64Array } {
  const lines = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
  const rows = lines.slice(1);
  const timestamps: string[] = [];
  const timestampsMs = new Float64Array(rows.length);
  const values = new Float64Array(rows.length);
  rows.forEach((line, i) => {
    const comma = line.indexOf(',');
    const time = line.slice(0, comma);
    const value = Number(line.slice(comma + 1));
    if (comma < 0 || !Number.isFinite(value)) throw new NabCorpusError(`${path} row ${i + 2} is not "timestamp,value"`);
    timestamps.push(time);
    timestampsMs[i] = parseNabTime(time);
    values[i] = value;
  });
  return { timestamps, timestampsMs, values };
}

/** Window timestamps → inclusive row ranges (first row at/after start, last row at/before end). */
function windowRows(times: Float64Array, limits: readonly (readonly [string, string])[]): [number, number][] {
  const out: [number, number][] = [];
  for (const [start, end] of limits) {
    const s = parseNabTime(start);
    const e = parseNabTime(end);
    let first = 0;
    while (first < times.length && times[first]! < s) first++;
    let last = first;
    while (last + 1 < times.length && times[last + 1]! <= e) last++;
    if (first < times.length && times[first]! <= e) out.push([first, last]);
  }
  return out;
}

export function loadNabCorpus(dir: string): NabCorpus {
  const dataDir = join(dir, 'data');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new NabCorpusError(`${dir} is not a directory`);
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new NabCorpusError(`${dir} has no data/ folder`);
  const windowsPath = join(dir, 'labels', 'combined_windows.json');
  if (!existsSync(windowsPath)) throw new NabCorpusError(`${dir} has no labels/combined_windows.json`);
  const windows = windowsSchema.parse(JSON.parse(readFileSync(windowsPath, 'utf8')));
  const profilesPath = join(dir, 'config', 'profiles.json');
  const profiles = existsSync(profilesPath) ? profilesFromFile(JSON.parse(readFileSync(profilesPath, 'utf8'))) : NAB_PROFILES;
  const files: NabFile[] = [];
  for (const category of readdirSync(dataDir).sort()) {
    const categoryDir = join(dataDir, category);
    if (!statSync(categoryDir).isDirectory()) continue;
    for (const file of readdirSync(categoryDir)
      .filter((f) => f.endsWith('.csv'))
      .sort()) {
      const name = `${category}/${file}`;
      const series = readSeries(join(categoryDir, file));
      files.push({
        name,
        category,
        file,
        rowCount: series.values.length,
        windows: windowRows(series.timestampsMs, windows[name] ?? []),
        ...series,
      });
    }
  }
  if (files.length === 0) throw new NabCorpusError(`${dataDir} holds no <category>/<file>.csv`);
  return { files, profiles };
}
