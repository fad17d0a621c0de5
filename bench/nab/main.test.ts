import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('bad arguments give a one-line error and exit code 2', () => {
  for (const args of [[], ['--data', '/no/such/dir'], ['--data', tmpdir()], ['--bogus', 'x']]) {
    const result = run(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

test('a tiny NAB-layout corpus is scored and written in NAB result layout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-nab-'));
  mkdirSync(join(dir, 'data', 'cat'), { recursive: true });
  mkdirSync(join(dir, 'labels'));
  const rows = Array.from(
    { length: 400 },
    (_, i) =>
      `2020-01-01 ${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00,${i === 300 ? 100 : 10 + (i % 3)}`,
  );
  writeFileSync(join(dir, 'data', 'cat', 's.csv'), `timestamp,value\n${rows.join('\n')}\n`);
  writeFileSync(
    join(dir, 'labels', 'combined_windows.json'),
    JSON.stringify({ 'cat/s.csv': [['2020-01-01 04:50:00.000000', '2020-01-01 05:10:00.000000']] }),
  );
  const out = join(dir, 'results');
  const result = run('--data', dir, '--out', out, '--detectors', 'robust-zscore');
  assert.equal(result.status, 0, result.stderr);
  // The spike at row 300 is detected mid-window (rows 290..310): worth 0.876 of a perfect
  // detection, so (0.876 + 1) / 2 of the way from the silent detector to the perfect one.
  assert.match(result.stdout, /robust-zscore \|\s+93\.8 \|/);
  const csv = readFileSync(join(out, 'robust-zscore', 'cat', 'robust-zscore_s.csv'), 'utf8').split('\n');
  assert.equal(csv[0], 'timestamp,value,anomaly_score,label');
  assert.equal(csv[301]?.split(',')[3], '1');
});
