// Predictions become actions, end to end on real guests: a fault is predicted and rolled back, a
// leak is forecast and the memory raised before the guest runs out, alerts reach real receivers.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Policy, parsePolicy } from '../policy/index.js';
import { openStore } from '../store/open.js';
import { type ComputationConfig, DEFAULT_CONFIG } from './config.js';
import { launch } from './launch.js';
import { wasmComputation } from './spec.js';

const guest = (name: string) => fileURLToPath(new URL(`../../../guests/bin/${name}.wasm`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'shadowvm-drift-'));
const store = openStore(join(dir, 'drift.db'));
after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(name: string, args: string[], config: Partial<ComputationConfig>, policy?: Policy) {
  const chunks: Buffer[] = [];
  const report = await launch({
    spec: wasmComputation({ module: guest(name), args, config: { ...DEFAULT_CONFIG, ...config } }),
    store,
    sink: { write: (stream, bytes) => (stream === 'stdout' ? chunks.push(Buffer.from(bytes)) : undefined) },
    writeLine: () => {},
    ...(policy ? { policy } : {}),
  });
  return { report, stdout: Buffer.concat(chunks).toString() };
}

test('an injected fault is predicted as a failure, rolled back, and the output is right', async () => {
  const epochs = { events: 300_000, syscalls: 0, maxEpochMs: 0 };
  const clean = await run('pipeline', ['4', '20000'], { shadows: 0, epochs });
  const faulted = await run('pipeline', ['4', '20000'], {
    shadows: 2,
    epochs,
    faults: [{ target: 'primary', epoch: 4, fault: { kind: 'bitflip', bit: 2 } }],
  });
  const predictions = store.audit.listPredictions(faulted.report.computationId);
  assert.ok(
    predictions.some((p) => p.epoch === 4 && p.level === 'failure'),
    `a failure predicted at epoch 4: ${JSON.stringify(predictions)}`,
  );
  assert.equal(faulted.report.rollbacks.length, 1);
  assert.equal(faulted.stdout, clean.stdout);
});

test('a leaking guest: memory exhaustion is forecast and the limit raised before it would have failed', async () => {
  const config = { shadows: 1, memoryLimitBytes: 24 * 2 ** 20, epochs: { events: 150, syscalls: 0, maxEpochMs: 0 } };
  const leakArgs = ['48', '1024'];
  const unattended = await run('leak', leakArgs, config, parsePolicy('dryRun: true\n', 'dry-run.yaml'));
  assert.equal(unattended.report.exitCode, 3, 'without intervention the guest runs out of memory');
  const attended = await run('leak', leakArgs, config);
  assert.equal(attended.report.exitCode, 0, attended.report.end);
  const raises = attended.report.actions.filter((a) => a.kind === 'raise-memory' && a.status === 'applied');
  assert.ok(raises.length >= 1, `memory raised: ${JSON.stringify(attended.report.actions)}`);
  const failedAt = unattended.report.epochs;
  assert.ok(
    (raises[0]?.epoch ?? Infinity) < failedAt,
    `raised at epoch ${raises[0]?.epoch}, before the unattended run failed at ${failedAt}`,
  );
  assert.match(attended.stdout, /step 48/);
});

test('alerts reach a webhook and an Alertmanager v2 receiver', async () => {
  const received: { path: string; body: unknown }[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString()) as unknown });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const policy = parsePolicy(
      JSON.stringify({ alerts: { webhooks: [`http://127.0.0.1:${port}/hook`], alertmanagers: [`http://127.0.0.1:${port}`], log: false } }),
      'alerts.json',
    );
    const { report } = await run(
      'pipeline',
      ['6', '20000'],
      {
        shadows: 2,
        epochs: { events: 300_000, syscalls: 0, maxEpochMs: 0 },
        faults: [{ target: 'primary', epoch: 3, fault: { kind: 'bitflip', bit: 0 } }],
      },
      policy,
    );
    const hook = received.find((r) => r.path === '/hook')?.body as Record<string, unknown> | undefined;
    assert.ok(hook, 'the webhook got an alert');
    assert.equal(hook.computation, report.computationId);
    const manager = received.find((r) => r.path === '/api/v2/alerts')?.body as
      | { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string }[]
      | undefined;
    assert.ok(Array.isArray(manager) && manager.length > 0, 'Alertmanager got a list of alerts');
    const alert = manager[0];
    assert.ok(alert?.labels.alertname && alert.labels.computation === report.computationId);
    assert.ok(alert.annotations.summary);
    assert.ok(!Number.isNaN(Date.parse(alert.startsAt)));
  } finally {
    server.close();
  }
});
