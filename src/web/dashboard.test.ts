// The dashboard in Debian's chromium (playwright-core): start a computation from the page, watch
// the drift chart grow live, inject a fault from the page, see the rollback on the timeline.
// Leaves a screenshot in test-artifacts/dashboard.png.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { REPO_GUESTS, startTestService } from '../api/testing.js';
import { commandPath, skipWithout } from '../host-tools.js';

const ARTIFACTS = resolve(REPO_GUESTS, '..', '..', 'test-artifacts');

test('dashboard: start, watch live, inject, see the rollback', {
  skip: skipWithout('chromium'),
  timeout: 90_000,
}, async () => {
  const service = await startTestService();
  const profile = mkdtempSync(join(tmpdir(), 'shadowvm-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: commandPath('chromium'),
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(service.url);
    await page.fill('input[name=guest]', 'spin.wasm');
    await page.fill('input[name=args]', '');
    await page.fill('input[name=profiles]', 'thread/v8');
    await page.fill('input[name=epochEvents]', '4000000');
    await page.fill('input[name=maxEpochs]', '4000');
    await page.click('#start-button');

    await page.waitForSelector('#computations tbody tr.selected');
    const points = async () => Number(await page.getAttribute('#drift', 'data-points'));
    await page.waitForFunction(() => Number(document.getElementById('drift')?.dataset.points) >= 5);
    const earlier = await points();
    await page.waitForFunction((n) => Number(document.getElementById('drift')?.dataset.points) > n, earlier);
    assert.ok((await points()) > earlier, 'the chart grows while the computation runs');
    assert.equal((await page.locator('#drift canvas').count()) >= 1, true, 'uPlot drew the chart');

    await page.waitForFunction(() => !(document.getElementById('inject') as HTMLButtonElement | null)?.disabled);
    await page.selectOption('#fault-target', 'primary');
    await page.click('#inject');
    await page.waitForSelector('#timeline tbody tr[data-kind=rollback]', { timeout: 30_000 });
    const rollback = await page.locator('#timeline tbody tr[data-kind=rollback]').first().textContent();
    assert.match(rollback ?? '', /rollback/);
    await page.waitForFunction(() => Number(document.getElementById('heatmap')?.dataset.cells) > 0);
    await page.waitForFunction(() => Number(document.getElementById('drift')?.dataset.points) > 40);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png') });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await service.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
