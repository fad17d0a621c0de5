// /events over a real socket: a client that reconnects with Last-Event-ID gets exactly what it
// missed, in order, then the live stream; verdicts and actions go out as the REST routes serve them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ActionSchema, VerdictSchema } from './schemas.js';
import type { SseFrame } from './sse-client.js';
import { call, framesUntilEnd, startTestService, type TestService } from './testing.js';

let service: TestService;
before(async () => {
  service = await startTestService();
});
after(async () => {
  await service?.close();
});

test('SSE streams a computation live and resumes from Last-Event-ID', async () => {
  const created = await call(service.url, 'POST', '/api/computations', {
    guest: 'pipeline.wasm',
    args: ['7', '1000'],
    shadows: 2,
    profiles: ['thread/v8'],
    epochEvents: 1_000_000,
  });
  assert.equal(created.status, 202);
  const { id } = created.body.computation;
  const live = await framesUntilEnd(`${service.url}/events?computation=${id}&lastEventId=${created.body.eventId}`);
  const types = new Set(live.map((f) => f.event));
  for (const type of ['status', 'epoch', 'score', 'output', 'end']) assert.ok(types.has(type), `saw ${type}`);
  const ids = live.map((f) => f.id as number);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids only grow',
  );
  assert.ok(live.every((f) => JSON.parse(f.data).computationId === id));
  const output = live
    .filter((f) => f.event === 'output')
    .map((f) => Buffer.from(JSON.parse(f.data).base64, 'base64').toString())
    .join('');
  assert.match(output, /sha256 83b9f5dad89820cfddfeeef8e5e71a12b0dfd6368f7d74c6f6f76dcb77577af4/);

  // A client that dropped after the middle frame resumes from it (header form of Last-Event-ID).
  const middle = live[Math.floor(live.length / 2)] as SseFrame;
  const resumed = await framesUntilEnd(`${service.url}/events?computation=${id}`, { 'last-event-id': String(middle.id) });
  assert.deepEqual(
    resumed.map((f) => [f.id, f.event, f.data]),
    live.filter((f) => (f.id as number) > (middle.id as number)).map((f) => [f.id, f.event, f.data]),
  );
});

test('SSE carries each verdict and each action as GET …/verdicts and …/actions serve them', async () => {
  const created = await call(service.url, 'POST', '/api/computations', {
    guest: 'spin.wasm',
    shadows: 2,
    profiles: ['thread/v8'],
    epochEvents: 2_000_000,
    maxEpochs: 12,
    faults: [{ target: 'primary', epoch: 3, fault: { kind: 'bitflip', bit: 2 } }],
  });
  assert.equal(created.status, 202);
  const { id } = created.body.computation;
  const frames = await framesUntilEnd(`${service.url}/events?computation=${id}&lastEventId=${created.body.eventId}`);
  const sent = (type: string) => frames.filter((f) => f.event === type).map((f) => JSON.parse(f.data) as Record<string, unknown>);

  const verdicts = sent('verdict');
  assert.deepEqual(verdicts, (await call(service.url, 'GET', `/api/computations/${id}/verdicts`)).body.items);
  assert.deepEqual(
    verdicts.map((v) => [v.epoch, v.kind, v.blamed]),
    [[3, 'primary-diverged', [`${id}/primary`]]],
  );
  for (const verdict of verdicts) assert.ok(VerdictSchema.safeParse(verdict).success);

  const actions = sent('intervention');
  assert.deepEqual(actions, (await call(service.url, 'GET', `/api/computations/${id}/actions`)).body.items);
  const rollback = actions.find((a) => a.kind === 'rollback');
  assert.equal(rollback?.vmId, `${id}/primary`);
  assert.equal(rollback?.actor, 'vote');
  assert.deepEqual(rollback?.cause, { kind: 'verdict', epoch: 3, attempt: 1, verdict: 'primary-diverged', blamed: [`${id}/primary`] });
  for (const action of actions) assert.ok(ActionSchema.safeParse(action).success);
});
