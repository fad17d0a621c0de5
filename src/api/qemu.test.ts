// QEMU computations through the service's REST API, on real TCG guests: a lockstep computation is
// started, a bit flip is injected into its primary while it runs (a fault its driver cannot take is
// refused), the rollback of the primary goes out on /events, and the report blames the primary and
// ends with the workload's exact output and exit code 0. A free-running one shows where its
// mirrored HTTP server listens while it runs.

import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { ComputationReport } from '../computation/report.js';
import { parseComputationSpec } from '../computation/spec.js';
import { parseDriverSpec } from '../drivers/open.js';
import { defaultGuestDir, ensureGuest } from '../drivers/qemu/guest-build.js';
import { qemuProcessesUnder } from '../drivers/qemu/leaks.js';
import { runtimeRoot } from '../drivers/qemu/process.js';
import { expectedRound, printedRounds } from '../drivers/qemu/testing.js';
import { skipWithout } from '../host-tools.js';
import { call, framesUntilEnd, startTestService, type TestService, waitFor } from './testing.js';

// As src/drivers/qemu/lockstep-run.test.ts: about a minute of guest work under TCG.
const ROUNDS = 3;
const SIZE = 200;
const skip = skipWithout('qemu');

let service: TestService;
before(async () => {
  if (skip === false) await ensureGuest();
  service = await startTestService();
});
after(async () => {
  await service?.close();
});

/** QEMU processes this test process started that are still there. */
const leftRunning = () => qemuProcessesUnder(join(runtimeRoot, `m-${process.pid}-`));

test('QEMU lockstep through the REST API: a bit flip injected into the primary is outvoted, rolled back, and the report blames it', {
  timeout: 400_000,
  skip,
}, async () => {
  const kernelArgs = [`shadowvm.rounds=${ROUNDS}`, `shadowvm.size=${SIZE}`];
  const created = await call(service.url, 'POST', '/api/computations', {
    driver: 'qemu',
    mode: 'lockstep',
    kernelArgs,
    shadows: 2,
    epochMs: 200,
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const id = created.body.computation.id as string;
  const primary = `${id}/primary`;
  // What the row keeps is enough to reopen it: the default guest, as the request named it.
  assert.deepEqual(parseDriverSpec(parseComputationSpec(service.store.computations.get(id)?.config).driver), {
    kind: 'qemu',
    mode: 'lockstep',
    image: resolve(defaultGuestDir),
    kernelArgs,
    epochMs: 200,
  });
  const stream = framesUntilEnd(`${service.url}/events?computation=${id}&lastEventId=${created.body.eventId}`);

  // A verified checkpoint to roll back to, then the fault.
  await waitFor(
    'a verified checkpoint',
    async () => {
      const { items } = (await call(service.url, 'GET', `/api/computations/${id}/checkpoints`)).body;
      return items?.some((c: { verified: boolean }) => c.verified) ? true : undefined;
    },
    300_000,
  );
  // Lockstep shadows replay the primary's recording: there is no input of theirs to corrupt.
  const refused = await call(service.url, 'POST', `/api/computations/${id}/faults`, {
    target: 'shadow1',
    fault: { kind: 'corrupt-input', seq: 1 },
  });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(refused.body.code, 'capability-missing');
  const injected = await call(service.url, 'POST', `/api/computations/${id}/faults`, {
    target: 'primary',
    fault: { kind: 'bitflip', bit: 3 },
  });
  assert.equal(injected.status, 202, JSON.stringify(injected.body));

  const frames = await stream;
  const sent = (type: string) => frames.filter((f) => f.event === type).map((f) => JSON.parse(f.data));
  const rollback = sent('intervention').find((a) => a.kind === 'rollback');
  assert.ok(rollback, `a rollback on /events: ${JSON.stringify(sent('intervention'))}`);
  assert.equal(rollback.vmId, primary);
  assert.equal(rollback.actor, 'vote');
  assert.equal(rollback.status, 'applied');
  assert.deepEqual(rollback.cause.blamed, [primary]);
  assert.deepEqual(
    sent('verdict').map((v) => [v.epoch, v.kind, v.blamed]),
    [[rollback.cause.epoch, 'primary-diverged', [primary]]],
  );
  assert.deepEqual(
    sent('end').map(({ status, exitCode }) => [status, exitCode]),
    [['succeeded', 0]],
  );
  // The guest's serial console is its one output stream.
  const serial = sent('output')
    .map((o) => Buffer.from(o.base64, 'base64').toString())
    .join('');
  assert.deepEqual(
    printedRounds(serial),
    Array.from({ length: ROUNDS }, (_, i) => expectedRound(i + 1, SIZE)),
    'the workload output is exact after the rollback',
  );

  const row = (await call(service.url, 'GET', `/api/computations/${id}`)).body;
  const report = row.report as ComputationReport;
  assert.equal(row.status, 'succeeded');
  assert.equal(report.exitCode, 0);
  assert.deepEqual(
    report.verdicts.map((v) => [v.kind, v.blamed]),
    [['primary-diverged', [primary]]],
  );
  assert.deepEqual(
    report.rollbacks.map((a) => [a.vm, a.actor]),
    [[primary, 'vote']],
  );
  assert.deepEqual(leftRunning(), [], 'no QEMU outlives the computation');
});

test('QEMU free mode through the REST API: the computation view shows the mirrored HTTP endpoint while it runs', {
  timeout: 120_000,
  skip,
}, async () => {
  const created = await call(service.url, 'POST', '/api/computations', {
    driver: 'qemu',
    mode: 'free',
    shadows: 1,
    kernelArgs: ['shadowvm.rounds=0'],
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const id = created.body.computation.id as string;
  const live = await waitFor('the endpoint', async () => {
    const got = (await call(service.url, 'GET', `/api/computations/${id}`)).body;
    return got.live?.endpoints.length > 0 ? got.live : undefined;
  });
  assert.equal(live.phase, 'running');
  assert.deepEqual(
    live.endpoints.map((e: { name: string }) => e.name),
    ['http'],
  );
  assert.match(live.endpoints[0].url, /^http:\/\/127\.0\.0\.1:\d+$/);

  assert.equal((await call(service.url, 'POST', `/api/computations/${id}/cancel`, {})).status, 202);
  const row = await waitFor('the cancellation', async () => {
    const got = (await call(service.url, 'GET', `/api/computations/${id}`)).body;
    return got.live?.phase === 'finished' ? got : undefined;
  });
  assert.equal(row.status, 'cancelled');
  assert.deepEqual(row.live.endpoints, [], 'an ended computation is reached nowhere');
  assert.deepEqual(row.report.endpoints, live.endpoints, 'the report keeps where it was reached');
  assert.deepEqual(leftRunning(), [], 'no QEMU outlives the computation');
});
