// The layering rule of biome.json is a lint error, not a convention: an upward import or an import
// of a driver's own folder from above src/drivers fails `npm test`; the contract's files pass.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const biome = join(root, 'node_modules', '.bin', 'biome');

/** Lints one file placed at `path` in a tree that has only the project's biome.json. */
function lint(path: string, source: string): { code: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-layering-'));
  try {
    copyFileSync(join(root, 'biome.json'), join(dir, 'biome.json'));
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
    const result = spawnSync(biome, ['lint', '--vcs-enabled=false', '--colors=off', path], { cwd: dir, encoding: 'utf8' });
    return { code: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const importing = (specifier: string) => `import { x } from '${specifier}';\nexport const y = x;\n`;

test('the layering rule refuses a driver folder imported from above src/drivers', () => {
  const result = lint('src/computation/probe.ts', importing('../drivers/wasm/driver.js'));
  assert.equal(result.code, 1, result.output);
  assert.match(result.output, /layering: above src\/drivers only its top-level files/);
});

test('the layering rule refuses an import of a higher layer', () => {
  const result = lint('src/store/probe.ts', importing('../computation/launch.js'));
  assert.equal(result.code, 1, result.output);
  assert.match(result.output, /layering: src\/store must not import the layers above it/);
  const root = lint('src/probe.ts', importing('./store/types.js'));
  assert.equal(root.code, 1, root.output);
});

test('the layering rule lets a layer import the contract and the layers below it', () => {
  for (const [path, specifier] of [
    ['src/computation/probe.ts', '../drivers/types.js'],
    ['src/computation/probe.ts', '../drivers/open.js'],
    ['src/api/probe.ts', '../service/manager.js'],
    ['src/drivers/qemu/probe.ts', '../../pages/diff.js'],
  ] as const) {
    const result = lint(path, importing(specifier));
    assert.equal(result.code, 0, `${path} importing ${specifier}: ${result.output}`);
  }
});
