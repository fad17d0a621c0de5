import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const loco = fileURLToPath(new URL('./loco.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [loco, ...args], { encoding: 'utf8' });

test('loco: bad arguments give a one-line error and exit code 2', () => {
  for (const args of [[], ['--data', tmpdir()], ['--data', tmpdir(), '--detector', 'ewma', '--grid', '{bad'], ['--bogus', 'x']]) {
    const result = run(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

test('loco: every grid point is scored, then each category with settings chosen on the others', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-loco-'));
  mkdirSync(join(dir, 'labels'), { recursive: true });
  const windows: Record<string, [string, string][]> = {};
  for (const category of ['a', 'b']) {
    mkdirSync(join(dir, 'data', category), { recursive: true });
    const rows = Array.from(
      { length: 400 },
      (_, i) =>
        `2020-01-01 ${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00,${i === 300 ? 100 : 10 + (i % 3)}`,
    );
    writeFileSync(join(dir, 'data', category, 's.csv'), `timestamp,value\n${rows.join('\n')}\n`);
    windows[`${category}/s.csv`] = [['2020-01-01 04:50:00.000000', '2020-01-01 05:10:00.000000']];
  }
  writeFileSync(join(dir, 'labels', 'combined_windows.json'), JSON.stringify(windows));
  const result = run('--data', dir, '--detector', 'robust-zscore', '--grid', '{"window":[50,100]}');
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /\{"window":50\}\s+\d/);
  assert.match(result.stdout, /\{"window":100\}\s+\d/);
  assert.match(result.stdout, /^a\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\s+\{"window":\d+\}$/m);
  assert.match(result.stdout, /^b\s+/m);
});
