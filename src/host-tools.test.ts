// A test that needs a host tool skips without it and names the package to install; under CI=true
// it fails instead. And CI has every tool, whichever test needs it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HOST_TOOLS, type HostToolName, missingTool, skipWithout } from './host-tools.js';

const QEMU_MISSING = /qemu-system-x86_64 is not installed \(apt-get install qemu-system-x86 qemu-utils busybox-static\)/;

test('a test whose tool is missing skips, naming the package; under CI=true it fails, naming it too', () => {
  // An empty directory as the PATH: no QEMU there.
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-host-tools-'));
  try {
    const file = join(dir, 'needs-qemu.test.mjs');
    writeFileSync(
      file,
      `import { test } from 'node:test';\nimport { skipWithout } from ${JSON.stringify(new URL('./host-tools.js', import.meta.url).href)};\n` +
        `test('boots a guest', { skip: skipWithout('qemu') }, () => {});\n`,
    );
    // Not inside this test run (NODE_TEST_CONTEXT), and not under this run's CI setting.
    const { CI: _ci, NODE_TEST_CONTEXT: _context, ...environment } = process.env;
    const run = (ci: Record<string, string>) => {
      const result = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], {
        env: { ...environment, ...ci, PATH: dir },
        encoding: 'utf8',
      });
      return { code: result.status, output: `${result.stdout}${result.stderr}` };
    };
    const newcomer = run({});
    assert.equal(newcomer.code, 0, newcomer.output);
    assert.match(newcomer.output, /# SKIP qemu-system-x86_64/);
    assert.match(newcomer.output, QEMU_MISSING);
    const ci = run({ CI: 'true' });
    assert.equal(ci.code, 1, ci.output);
    assert.match(ci.output, QEMU_MISSING);
    assert.match(ci.output, /CI=true makes a test that needs it fail rather than skip/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The tests that need a tool may not all ask for it through skipWithout: CI fails here by name.
for (const tool of Object.keys(HOST_TOOLS) as HostToolName[]) {
  test(`${tool} is installed`, { skip: skipWithout(tool) }, () => {
    assert.equal(missingTool(tool), undefined);
  });
}
