// Every route against a real listening server, real guests and a real SQLite store.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROUTES, type RouteId } from './schemas.js';
import { call, startTestService, type TestService, waitFor } from './testing.js';

/** GET of a route whose answer must be what the route table documents. */
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a route answers
async function getRoute(service: TestService, id: RouteId, path: string): Promise<any> {
  const got = await call(service.url, 'GET', path);
  assert.equal(got.status, ROUTES[id].status, `${path}: ${JSON.stringify(got.body).slice(0, 500)}`);
  const shape = ROUTES[id].response.safeParse(got.body);
  assert.ok(shape.success, `${path} answers as ${id} documents: ${shape.error?.message}`);
  return got.body;
}

const SPIN = { guest: 'spin.wasm', shadows: 2, profiles: ['thread/v8'], epochEvents: 2_000_000, maxEpochs: 600 };

describe('REST API', () => {
  let service: TestService;
  let finishedId: string;
  let spinId: string;

  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service?.close();
  });

  test('POST /api/computations runs a guest with stdin to its end', async () => {
    const created = await call(service.url, 'POST', '/api/computations', {
      guest: 'stdin_sum.wasm',
      stdin: '1\n2\n3\n4\n',
      shadows: 2,
      profiles: ['thread/v8'],
    });
    assert.equal(created.status, 202);
    finishedId = created.body.computation.id;
    assert.match(finishedId, /^c-[a-z0-9]{10}$/);
    const done = await waitFor('the computation to finish', async () => {
      const got = await call(service.url, 'GET', `/api/computations/${finishedId}`);
      return got.body.live?.phase === 'finished' ? got.body : undefined;
    });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.report).slice(0, 2000));
    assert.equal(done.exitCode, 0);
    assert.ok(done.report.verifiedEpochs >= 1);
  });

  test('GET list, vms, log, checkpoints, predictions, verdicts, actions, alerts, timeline of a finished computation', async () => {
    const list = await call(service.url, 'GET', '/api/computations?limit=10');
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((c: { id: string }) => c.id === finishedId));
    assert.equal(typeof list.body.counts.queued, 'number');

    const vms = await call(service.url, 'GET', `/api/computations/${finishedId}/vms`);
    assert.deepEqual(vms.body.items.map((vm: { role: string }) => vm.role).sort(), ['primary', 'shadow', 'shadow']);
    assert.ok(vms.body.items.every((vm: { status: string }) => vm.status === 'ended'));

    const log = await call(service.url, 'GET', `/api/computations/${finishedId}/log?limit=1`);
    assert.equal(log.status, 200);
    assert.equal(log.body.epochs.length >= 1, true);
    assert.ok(new Set(log.body.epochs.map((e: { epoch: number }) => e.epoch)).size === 1);
    assert.ok(log.body.stats.epochs >= 1);

    const ranged: [RouteId, string][] = [
      ['listPredictions', 'predictions'],
      ['listVerdicts', 'verdicts'],
      ['listActions', 'actions'],
      ['listAlerts', 'alerts'],
      ['readTimeline', 'timeline'],
    ];
    for (const [id, path] of ranged) await getRoute(service, id, `/api/computations/${finishedId}/${path}?from=0&to=100`);
    await getRoute(service, 'listCheckpoints', `/api/computations/${finishedId}/checkpoints`);
    const policy = await call(service.url, 'GET', `/api/computations/${finishedId}/policy`);
    assert.equal(policy.status, 200);
    assert.equal(policy.body.source, 'built-in defaults');
  });

  test('run-time control: inject a fault, see the rollback, change the policy, roll back, cancel', async () => {
    const created = await call(service.url, 'POST', '/api/computations', SPIN);
    spinId = created.body.computation.id;
    await waitFor('epoch 3', async () =>
      (await call(service.url, 'GET', `/api/computations/${spinId}`)).body.live?.epoch >= 3 ? true : undefined,
    );

    const injected = await call(service.url, 'POST', `/api/computations/${spinId}/faults`, {
      target: 'primary',
      fault: { kind: 'bitflip', bit: 3 },
    });
    assert.equal(injected.status, 202);
    assert.equal(injected.body.fault.kind, 'bitflip');
    assert.equal(typeof injected.body.fault.address, 'number');
    const primary = `${spinId}/primary`;
    const rollback = await waitFor('the vote and rollback', async () => {
      const { items } = await getRoute(service, 'listActions', `/api/computations/${spinId}/actions`);
      return items.find((a: { kind: string; actor: string }) => a.kind === 'rollback' && a.actor === 'vote');
    });
    assert.equal(rollback.vmId, primary, 'the rollback acted on the primary');
    assert.equal(rollback.status, 'applied');
    assert.match(rollback.outcome, /\/primary#2 restores/);
    assert.equal(rollback.cause.kind, 'verdict');
    assert.equal(rollback.cause.verdict, 'primary-diverged');
    assert.deepEqual(rollback.cause.blamed, [primary]);
    const { items: verdicts } = await getRoute(service, 'listVerdicts', `/api/computations/${spinId}/verdicts`);
    const verdict = verdicts.find((v: { epoch: number }) => v.epoch === rollback.cause.epoch);
    assert.equal(verdict.kind, 'primary-diverged');
    assert.deepEqual(verdict.blamed, [primary]);
    assert.equal(verdict.majority.length, 2, 'both shadows outvoted it');
    // The timeline has the verdict, then the action it caused, each as its own record.
    const { items: entries } = await getRoute(service, 'readTimeline', `/api/computations/${spinId}/timeline`);
    const at = (type: string, id: number) => entries.findIndex((e: { type: string; id: number }) => e.type === type && e.id === id);
    assert.ok(
      at('verdict', verdict.id) >= 0 && at('verdict', verdict.id) < at('action', rollback.id),
      'the verdict comes before its rollback',
    );
    assert.deepEqual(entries[at('action', rollback.id)], { type: 'action', ...rollback });
    const events = entries.filter((e: { type: string }) => e.type === 'event').map(({ type: _type, ...event }: { type: string }) => event);
    assert.ok(events.some((e: { kind: string }) => e.kind === 'checkpoint'));
    assert.deepEqual(events, service.store.audit.listEvents(spinId).slice(0, events.length), 'every event as stored, in order');
    const divergences = (await call(service.url, 'GET', `/api/computations/${spinId}/log`)).body.divergences as {
      kind: string;
      vmId: string;
    }[];
    assert.ok(divergences.some((d) => d.kind === 'pages'));

    const policy = await call(service.url, 'PUT', `/api/computations/${spinId}/policy`, {
      policy: { levels: [{ name: 'warn', enter: 0.4, exit: 0.3, actions: ['alert'] }] },
    });
    assert.equal(policy.status, 200);
    assert.equal(policy.body.source, 'body.policy');
    assert.deepEqual(
      policy.body.policy.defaults.levels.map((l: { enter: number }) => l.enter),
      [0.4],
    );
    const thresholds = await waitFor('thresholds from the new policy', async () => {
      const got = await call(service.url, 'GET', `/api/computations/${spinId}/policy`);
      const levels = Object.values(got.body.thresholds as Record<string, { enter: number }[]>)[0];
      return levels?.[0]?.enter === 0.4 ? levels : undefined;
    });
    assert.equal(thresholds.length, 1);

    const manual = await call(service.url, 'POST', `/api/computations/${spinId}/rollback`, { reason: 'operator test' });
    assert.equal(manual.status, 202);
    const requested = await waitFor('the manual rollback', async () => {
      const { items } = await getRoute(service, 'listActions', `/api/computations/${spinId}/actions`);
      return items.find((a: { kind: string; actor: string }) => a.kind === 'rollback' && a.actor === 'api');
    });
    assert.equal(requested.vmId?.startsWith(primary), true, 'a requested rollback acts on the primary');
    assert.deepEqual(requested.cause, { kind: 'request', reason: 'operator test' });

    const cancelled = await call(service.url, 'POST', `/api/computations/${spinId}/cancel`, {});
    assert.equal(cancelled.status, 202);
    const row = await waitFor('the cancellation', async () => {
      const got = await call(service.url, 'GET', `/api/computations/${spinId}`);
      return got.body.live?.phase === 'finished' ? got.body : undefined;
    });
    assert.equal(row.status, 'cancelled');
    const again = await call(service.url, 'POST', `/api/computations/${spinId}/rollback`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'not-running');
  });

  test('bad bodies and queries are 400 naming the field', async () => {
    mkdirSync(join(service.dir, 'images', 'empty'));
    const before = service.store.computations.list({ limit: 1000 }).length;
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/api/computations', { guest: 'spin.wasm', shadows: 99 }, /^body\.shadows: /],
      ['POST', '/api/computations', { shadows: 1 }, /^body\.guest: /],
      ['POST', '/api/computations', { guest: 'spin.wasm', colour: 'red' }, /^body: .*colour/],
      ['POST', '/api/computations', { guest: '../../package.json' }, /escapes the guests directory|no such file/],
      ['POST', '/api/computations', { guest: '/etc/passwd' }, /must be a relative path/],
      ['POST', '/api/computations', { driver: 'xen' }, /^body\.driver: must be wasm \(the default\) or qemu/],
      ['POST', '/api/computations', { driver: 'qemu', mode: 'sideways' }, /^body\.mode: /],
      ['POST', '/api/computations', { driver: 'qemu', guest: 'spin.wasm' }, /^body: .*guest/],
      ['POST', '/api/computations', { driver: 'qemu', epochEvents: 5 }, /^body: .*epochEvents/],
      [
        'POST',
        '/api/computations',
        { driver: 'qemu', kernelArgs: ['console=ttyS1'] },
        /^body\.kernelArgs\.0: must be a workload parameter/,
      ],
      [
        'POST',
        '/api/computations',
        { driver: 'qemu', kernelArgs: ['shadowvm.rounds=3 init=/bin/sh'] },
        /^body\.kernelArgs\.0: must be a workload parameter/,
      ],
      ['POST', '/api/computations', { driver: 'qemu', image: '/etc' }, /^image \/etc: must be a relative path/],
      [
        'POST',
        '/api/computations',
        { driver: 'qemu', image: '../../../../etc' },
        /^image \.\.\/\.\.\/\.\.\/\.\.\/etc: it escapes the images directory/,
      ],
      ['POST', '/api/computations', { driver: 'qemu', image: 'missing' }, /^image missing: no such file or directory/],
      [
        'POST',
        '/api/computations',
        { driver: 'qemu', image: 'empty' },
        /^image empty: guest image incomplete: .*run "shadowvm guest build"/,
      ],
      [
        'POST',
        '/api/computations',
        { driver: 'qemu', shadows: 1, faults: [{ target: 'shadow2', epoch: 2, fault: { kind: 'bitflip', bit: 1 } }] },
        /^body\.faults\.0\.target: /,
      ],
      [
        'POST',
        '/api/computations',
        { guest: 'spin.wasm', shadows: 1, faults: [{ target: 'shadow2', epoch: 2, fault: { kind: 'bitflip', bit: 1 } }] },
        /^body\.faults\.0\.target: /,
      ],
      [
        'POST',
        '/api/computations',
        { guest: 'spin.wasm', policy: { levels: [{ name: 'x', enter: 2, exit: 0.1 }] } },
        /^body\.policy: levels\[0\]\.enter/,
      ],
      ['GET', '/api/computations?limit=abc', undefined, /^query\.limit: /],
      ['POST', `/api/computations/${finishedId}/faults`, { target: 'primary', fault: { kind: 'bitflip', bit: 9 } }, /^body\.fault\.bit: /],
      ['PUT', `/api/computations/${finishedId}/policy`, {}, /^body\.policy: /],
      ['GET', '/api/computations/not-an-id', undefined, /^params\.id: /],
    ];
    for (const [method, path, body, message] of cases) {
      const got = await call(service.url, method, path, body);
      assert.equal(got.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(got.body)}`);
      assert.equal(typeof got.body.code, 'string');
      assert.match(got.body.message, message, `${method} ${path}`);
    }
    assert.equal(service.store.computations.list({ limit: 1000 }).length, before, 'a refused request stores no computation');
  });

  test('unknown ids are 404 on every computation route', async () => {
    const unknown = 'c-zzzzzzzzzz';
    let checked = 0;
    for (const spec of Object.values(ROUTES)) {
      if (!spec.url.includes(':id')) continue;
      const body =
        spec.method === 'GET'
          ? undefined
          : spec.url.endsWith('/faults')
            ? { target: 'primary', fault: { kind: 'bitflip', bit: 1 } }
            : spec.url.endsWith('/policy')
              ? { policy: {} }
              : {};
      const got = await call(service.url, spec.method, spec.url.replace(':id', unknown), body);
      assert.equal(got.status, 404, `${spec.method} ${spec.url}`);
      assert.equal(got.body.code, 'computation-not-found');
      checked++;
    }
    assert.ok(checked >= 10);
    const route = await call(service.url, 'GET', '/api/nothing-here');
    assert.equal(route.status, 404);
    assert.equal(route.body.code, 'not-found');
  });

  test('/metrics exposes per computation and VM series', async () => {
    const got = await call(service.url, 'GET', '/metrics');
    assert.equal(got.status, 200);
    const text = got.body as string;
    for (const name of [
      'shadowvm_epochs_total',
      'shadowvm_diff_pages_total',
      'shadowvm_prediction_score',
      'shadowvm_predictions_total',
      'shadowvm_interventions_total',
      'shadowvm_lag_ms',
      'shadowvm_digest_overhead_ratio',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, new RegExp(`shadowvm_epochs_total\\{computation="${spinId}"\\} \\d+`));
    assert.match(text, new RegExp(`shadowvm_diff_pages_total\\{computation="${spinId}",vm="${spinId}/shadow\\d"\\} [1-9]`));
    assert.match(text, new RegExp(`shadowvm_prediction_score\\{computation="${spinId}",vm="${spinId}/primary[^"]*"\\} `));
  });
});
