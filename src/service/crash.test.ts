// kill -9 of `shadowvm serve` in the middle of a run: after a restart every recorded row is still
// there and the interrupted computation is marked failed with the epoch it reached.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { call, REPO_GUESTS, waitFor } from '../api/testing.js';
import { openStore } from '../store/open.js';

const SERVE = fileURLToPath(new URL('../cli/commands/serve.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'shadowvm-crash-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `shadowvm serve` as its own process and resolves with its URL. */
async function serve(): Promise<{ child: ChildProcess; url: string }> {
  // An entry file rather than `node -e`: worker threads inherit execArgv, and -e flags break them.
  const entry = join(dir, 'serve.mjs');
  writeFileSync(
    entry,
    `import { serveCommand } from ${JSON.stringify(SERVE)};\nprocess.exitCode = await serveCommand(process.argv.slice(2));\n`,
  );
  const child = spawn(process.execPath, [entry, '--port', '0', '--data', dir, '--guests', REPO_GUESTS], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve(match[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

function counts(id: string) {
  const store = openStore(join(dir, 'shadowvm.db'));
  try {
    let divergences = 0;
    let next: number | null | undefined;
    do {
      const page = store.difflog.readDivergences(id, { limit: 1000, ...(next ? { after: next } : {}) });
      divergences += page.items.length;
      next = page.next;
    } while (next !== null);
    return {
      epochs: store.difflog.readEpochs(id).length,
      divergences,
      events: store.audit.listEvents(id).length,
      actions: store.audit.listActions(id).length,
      predictions: store.audit.listPredictions(id).length,
      checkpoints: store.checkpoints.list(id).length,
      inputs: store.inputs.count(id),
    };
  } finally {
    store.close();
  }
}

test('kill -9 mid-run: nothing recorded is lost and the computation is marked interrupted', async () => {
  const first = await serve();
  const created = await call(first.url, 'POST', '/api/computations', {
    guest: 'spin.wasm',
    shadows: 2,
    profiles: ['thread/v8'],
    epochEvents: 2_000_000,
    maxEpochs: 5000,
    faults: [{ target: 'primary', epoch: 3, fault: { kind: 'bitflip', bit: 2 } }],
  });
  assert.equal(created.status, 202);
  const id = created.body.computation.id as string;
  await waitFor('a rollback and a few more epochs', async () => {
    const got = await call(first.url, 'GET', `/api/computations/${id}`);
    const events = (await call(first.url, 'GET', `/api/computations/${id}/actions`)).body.items as { kind: string }[];
    return got.body.live?.epoch >= 10 && events.some((e) => e.kind === 'rollback') ? true : undefined;
  });
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));

  const before = counts(id);
  assert.ok(before.epochs >= 8 && before.divergences >= 1 && before.events >= 1, JSON.stringify(before));

  const second = await serve();
  const row = (await call(second.url, 'GET', `/api/computations/${id}`)).body;
  assert.equal(row.status, 'failed');
  const lastEpoch = Number(/interrupted at epoch (\d+)/.exec(row.report.end)?.[1]);
  assert.match(row.report.end, /^manager restarted; computation interrupted at epoch \d+$/);
  const vms = (await call(second.url, 'GET', `/api/computations/${id}/vms`)).body.items as { status: string }[];
  assert.ok(
    vms.every((vm) => vm.status === 'ended'),
    'no VM is left running',
  );
  const log = (await call(second.url, 'GET', `/api/computations/${id}/log?limit=10000`)).body;
  assert.equal(Math.max(...log.epochs.map((e: { epoch: number }) => e.epoch)), lastEpoch);
  second.child.kill('SIGTERM');
  assert.equal(await new Promise((resolve) => second.child.once('exit', resolve)), 0);

  assert.deepEqual(counts(id), before);
});
