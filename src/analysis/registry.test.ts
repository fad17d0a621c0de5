import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DetectorPluginError, UnknownDetectorError } from './errors.js';
import { createDetector, loadPlugin } from './registry.js';

const dir = mkdtempSync(join(tmpdir(), 'shadowvm-plugin-'));

test('a plug-in exporting createDetector loads and scores', async () => {
  const path = join(dir, 'constant.mjs');
  writeFileSync(
    path,
    `export function createDetector() { return { name: 'constant', update: () => 0.25, save: () => ({ detector: 'constant', data: {} }), restore() {} }; }\n`,
  );
  const { name, factory } = await loadPlugin(path);
  assert.equal(name, 'constant');
  assert.equal(factory().update(42), 0.25);
});

test('a module without createDetector, or one that cannot import, is refused in one line', async () => {
  const path = join(dir, 'empty.mjs');
  writeFileSync(path, 'export const nothing = 1;\n');
  await assert.rejects(loadPlugin(path), (e: unknown) => e instanceof DetectorPluginError && e.message.includes('createDetector'));
  await assert.rejects(loadPlugin(join(dir, 'missing.mjs')), (e: unknown) => e instanceof DetectorPluginError && !e.message.includes('\n'));
});

test('an unknown detector name lists the known ones', () => {
  assert.throws(
    () => createDetector('nope'),
    (e: unknown) => e instanceof UnknownDetectorError && e.message.includes('cusum'),
  );
});
