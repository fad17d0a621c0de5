import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Decision } from '../policy/decision.js';
import { PolicyEvaluator } from '../policy/evaluator.js';
import { defaultPolicy, parsePolicy } from '../policy/parse.js';
import type { VmIdentity } from '../policy/resolve.js';
import type { Alerter } from './alert.js';
import { createAlerters } from './alerters.js';
import { AlertmanagerAlerter } from './alertmanager.js';
import { FakePrimary } from './fake-target.fixture.js';
import { type Receiver, type Responder, startReceiver } from './http-receiver.fixture.js';
import { type ActionRecord, Intervener } from './intervener.js';
import { WebhookAlerter } from './webhook.js';

const vm: VmIdentity = { id: 'p0', role: 'primary', profile: 'worker/v8-default' };
const fast = { timeoutMs: 2000, maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, queueSize: 10 };

const receivers: Receiver[] = [];
after(() => Promise.all(receivers.map((receiver) => receiver.close())));

async function receiver(respond?: Responder): Promise<Receiver> {
  const started = await startReceiver(respond);
  receivers.push(started);
  return started;
}

/** Times 12:00:00, 12:00:01, … so every timestamp in a payload is known. */
function clock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2025, 0, 1, 12, 0, tick++));
}

/** Runs scores through the built-in policy and the intervener; returns the action records. */
async function run(alerter: Alerter, scores: readonly number[]): Promise<ActionRecord[]> {
  const evaluator = new PolicyEvaluator(defaultPolicy());
  const intervener = new Intervener({
    computation: 'sum',
    target: new FakePrimary({ memoryBytes: 1 << 20 }),
    alerters: [alerter],
    record: () => undefined,
    now: clock(),
  });
  const records: ActionRecord[] = [];
  for (const [i, score] of scores.entries()) {
    records.push(...(await intervener.intervene(evaluator.evaluate({ vm, epoch: i + 1, score }))));
  }
  return records;
}

describe('WebhookAlerter', () => {
  it('POSTs one flat JSON object per alert with the prediction fields', async () => {
    const hook = await receiver();
    const alerter = new WebhookAlerter(`${hook.url}/hook`, { delivery: fast });
    await run(alerter, [0.2, 0.9]);
    assert.equal(await alerter.flush(5000), true);
    assert.equal(hook.requests.length, 1);
    const [request] = hook.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.path, '/hook');
    assert.equal(request?.contentType, 'application/json');
    assert.deepEqual(request?.body, {
      computation: 'sum',
      vm: 'p0',
      role: 'primary',
      profile: 'worker/v8-default',
      level: 'predict-failure',
      severity: 'critical',
      status: 'firing',
      score: 0.9,
      reason: "score 0.900 at or above predict-failure's enter threshold 0.85 for 1 consecutive epoch",
      epoch: 2,
      time: '2025-01-01T12:00:00.000Z',
      startsAt: '2025-01-01T12:00:00.000Z',
    });
  });
});

describe('AlertmanagerAlerter', () => {
  it('POSTs v2 postable alerts to /api/v2/alerts, and resolves with the same labels and an endsAt', async () => {
    const alertmanager = await receiver();
    const alerter = new AlertmanagerAlerter(`${alertmanager.url}/`, {
      delivery: fast,
      generatorURL: 'http://dashboard.example/computations/sum',
    });
    await run(alerter, [0.9, 0.1]);
    assert.equal(await alerter.flush(5000), true);
    assert.deepEqual(
      alertmanager.requests.map((request) => [request.method, request.path]),
      [
        ['POST', '/api/v2/alerts'],
        ['POST', '/api/v2/alerts'],
      ],
    );
    const labels = {
      alertname: 'ShadowvmPredictFailure',
      severity: 'critical',
      computation: 'sum',
      vm: 'p0',
      role: 'primary',
      profile: 'worker/v8-default',
      level: 'predict-failure',
    };
    assert.deepEqual(alertmanager.requests[0]?.body, [
      {
        labels,
        annotations: {
          summary: 'predict-failure on VM p0 of computation sum',
          description: "score 0.900 at or above predict-failure's enter threshold 0.85 for 1 consecutive epoch",
          score: '0.900',
          epoch: '1',
        },
        startsAt: '2025-01-01T12:00:00.000Z',
        generatorURL: 'http://dashboard.example/computations/sum',
      },
    ]);
    const [resolved] = alertmanager.requests[1]!.body as [Record<string, unknown>];
    assert.deepEqual(resolved.labels, labels);
    assert.equal(resolved.startsAt, '2025-01-01T12:00:00.000Z');
    // Clock reads: the firing alert, its record, the rollback's record, then the resolution.
    assert.equal(resolved.endsAt, '2025-01-01T12:00:03.000Z');
  });
});

describe('delivery', () => {
  it('retries a receiver that fails twice and delivers on the third attempt', async () => {
    const flaky = await receiver((n) => (n <= 2 ? 503 : 200));
    const alerter = new WebhookAlerter(flaky.url, { delivery: fast, warn: () => undefined });
    await run(alerter, [0.9]);
    assert.equal(await alerter.flush(5000), true);
    assert.equal(flaky.requests.length, 3);
    assert.deepEqual(flaky.requests[0]?.body, flaky.requests[2]?.body);
    assert.deepEqual(alerter.stats(), { delivered: 1, failed: 0, dropped: 0, pending: 0 });
  });

  it('does not retry an alert the receiver refuses as malformed', async () => {
    const strict = await receiver(() => 400);
    const warnings: string[] = [];
    const alerter = new AlertmanagerAlerter(strict.url, { delivery: fast, warn: (line) => warnings.push(line) });
    await run(alerter, [0.9]);
    assert.equal(await alerter.flush(5000), true);
    assert.equal(strict.requests.length, 1);
    assert.deepEqual(alerter.stats(), { delivered: 0, failed: 1, dropped: 0, pending: 0 });
    assert.match(warnings[0] ?? '', /gave up on an alert after 1 attempt\(s\): POST .* answered HTTP 400/);
  });

  it('never holds up intervention when the receiver hangs, and gives up once it is gone', async () => {
    const dead = await receiver(() => 'hang');
    const warnings: string[] = [];
    const alerter = new WebhookAlerter(dead.url, { delivery: fast, warn: (line) => warnings.push(line) });
    const records = await run(alerter, [0.9, 0.95]);
    assert.deepEqual(
      records.map((record) => [record.kind, record.outcome.status]),
      [
        ['alert', 'queued'],
        ['rollback', 'applied'],
      ],
    );
    assert.equal(alerter.stats().pending, 1, 'still waiting for the receiver');
    assert.equal(await alerter.flush(50), false, 'flush gives up at its timeout');

    await dead.close();
    assert.equal(await alerter.flush(5000), true);
    assert.deepEqual(alerter.stats(), { delivered: 0, failed: 1, dropped: 0, pending: 0 });
    assert.match(warnings.join('\n'), /gave up on an alert after 3 attempt\(s\): POST http:\/\/127\.0\.0\.1:\d+ /);
  });

  it('delivers the decisions of a policy with several sinks independently', async () => {
    const good = await receiver();
    const bad = await receiver(() => 500);
    const alerters = [
      new WebhookAlerter(good.url, { delivery: fast }),
      new WebhookAlerter(bad.url, { delivery: { ...fast, maxAttempts: 2 }, warn: () => undefined }),
    ];
    const intervener = new Intervener({
      computation: 'sum',
      target: new FakePrimary({}),
      alerters,
      record: () => undefined,
    });
    const decision: Decision = {
      vm,
      epoch: 3,
      score: 0.7,
      cause: 'level-up',
      level: 'warn',
      reason: 'test',
      dryRun: false,
      actions: [{ kind: 'alert', status: 'firing', alert: 'warn', severity: 'warning' }],
    };
    const [record] = await intervener.intervene([decision]);
    assert.match(record?.outcome.detail ?? '', /^firing alert warn to webhook http:\/\/127\.0\.0\.1:\d+, webhook http/);
    assert.equal(await intervener.flush(5000), true);
    assert.deepEqual(
      alerters.map((alerter) => alerter.stats()),
      [
        { delivered: 1, failed: 0, dropped: 0, pending: 0 },
        { delivered: 0, failed: 1, dropped: 0, pending: 0 },
      ],
    );
    assert.equal(bad.requests.length, 2);
  });
});

describe('createAlerters', () => {
  it('builds the sinks a policy names, sending to each', async () => {
    const hook = await receiver();
    const alertmanager = await receiver();
    const policy = parsePolicy(`alerts: { webhooks: ["${hook.url}/h"], alertmanagers: ["${alertmanager.url}"], log: true }`, 'policy.yaml');
    const lines: string[] = [];
    const alerters = createAlerters(policy.alerts, { writeLine: (line) => lines.push(line) });
    assert.deepEqual(
      alerters.map((alerter) => alerter.name),
      ['log', `webhook ${hook.url}/h`, `alertmanager ${alertmanager.url}`],
    );
    for (const alerter of alerters) await run(alerter, [0.9]);
    assert.equal((await Promise.all(alerters.map((alerter) => alerter.flush(5000)))).every(Boolean), true);
    assert.equal(lines.length, 1);
    const line = /^shadowvm alert firing predict-failure severity=critical computation=sum vm=p0 epoch=1 /;
    assert.match(lines[0] ?? '', line);
    assert.deepEqual([hook.requests.length, alertmanager.requests[0]?.path], [1, '/api/v2/alerts']);
  });
});
