// The dashboard in Debian's chromium (playwright-core): start a computation from the page, watch
// the drift chart grow live, inject a fault from the page, see the verdict blame the primary and
// the vote's rollback of it on the timeline and over the page map; start a free-running QEMU
// computation from the page and see where its mirrored HTTP server listens. Leaves screenshots
// in test-artifacts/.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { REPO_GUESTS, startTestService } from '../api/testing.js';
import { ensureGuest } from '../drivers/qemu/guest-build.js';
import { commandPath, skipWithout } from '../host-tools.js';

const ARTIFACTS = resolve(REPO_GUESTS, '..', '..', 'test-artifacts');

/** Runs `use` on the dashboard of a fresh test service in headless chromium; page errors fail it. */
async function onDashboard(use: (page: Page) => Promise<void>): Promise<void> {
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
    await use(page);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await service.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, name) });
}

test('dashboard: start, watch live, inject, see the verdict blame the primary and its rollback', {
  skip: skipWithout('chromium'),
  timeout: 90_000,
}, async () => {
  await onDashboard(async (page) => {
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
    const cells = async (selector: string) => (await page.locator(`${selector} td`).allTextContents()).slice(1, 6);
    const [what, replica, by, because] = await cells('#timeline tbody tr[data-kind=rollback]');
    assert.deepEqual([what, replica, by], ['rollback', 'primary', 'vote'], 'the rollback names the VM it acted on and who decided it');
    assert.match(because ?? '', /^verdict of epoch \d+: primary-diverged, blamed primary$/);
    const verdict = await cells('#timeline tbody tr[data-type=verdict]');
    assert.deepEqual(verdict.slice(0, 3), ['primary-diverged', 'primary', 'vote']);
    assert.match(verdict[4] ?? '', /^blamed primary; outvoted by shadow1, shadow2$/);
    await page.waitForFunction(() => Number(document.getElementById('heatmap')?.dataset.cells) > 0);
    assert.match((await page.getAttribute('#blamed', 'data-blamed')) ?? '', /^\d+:primary$/, 'the page map names the blamed replica');
    assert.match((await page.locator('#blamed').textContent()) ?? '', /^blamed: epoch \d+ primary$/);
    await page.waitForFunction(() => Number(document.getElementById('drift')?.dataset.points) > 40);
    await screenshot(page, 'dashboard.png');
  });
});

test('dashboard: a free-running QEMU computation started from the page shows its mirrored HTTP endpoint', {
  skip: skipWithout('chromium') || skipWithout('qemu'),
  timeout: 120_000,
}, async () => {
  await ensureGuest();
  await onDashboard(async (page) => {
    await page.selectOption('select[name=driver]', 'qemu');
    assert.equal(await page.isVisible('input[name=guest]'), false, 'the form shows the QEMU fields only');
    await page.selectOption('select[name=mode]', 'free');
    await page.fill('input[name=kernelArgs]', 'shadowvm.rounds=0');
    await page.fill('input[name=shadows]', '1');
    await page.click('#start-button');

    await page.waitForSelector('#d-endpoints[data-live=true] a', { timeout: 60_000 });
    const link = page.locator('#d-endpoints a');
    assert.match((await link.textContent()) ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await link.getAttribute('href'), await link.textContent());
    assert.match((await page.locator('#d-facts').textContent()) ?? '', /driver qemu free/);
    await screenshot(page, 'dashboard-free.png');

    await page.waitForFunction(() => !(document.getElementById('cancel') as HTMLButtonElement | null)?.disabled);
    await page.click('#cancel');
    await page.waitForSelector('#d-status[data-status=cancelled]', { timeout: 60_000 });
    await page.waitForSelector('#d-endpoints[data-live=false]');
    assert.match((await page.locator('#d-endpoints').textContent()) ?? '', /^was reached at: http /);
  });
});
