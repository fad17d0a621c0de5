import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision, PlannedAction } from '../policy/decision.js';
import { PolicyError } from '../policy/errors.js';
import { PolicyEvaluator } from '../policy/evaluator.js';
import { parsePolicy } from '../policy/parse.js';
import type { VmIdentity } from '../policy/resolve.js';
import { FakePrimary } from './fake-target.fixture.js';
import { type ActionRecord, Intervener, type IntervenerOptions } from './intervener.js';
import { LogAlerter } from './log-alerter.js';

const vm: VmIdentity = { id: 'p0', role: 'primary', profile: 'worker/v8-default' };
const MiB = 1 << 20;

function decision(epoch: number, actions: PlannedAction[], dryRun = false): Decision {
  const reason = `epoch ${epoch}`;
  return { vm, epoch, score: 0.9, cause: 'level-up', level: 'predict-failure', reason, dryRun, actions };
}

function setup(target: FakePrimary, extra: Partial<IntervenerOptions> = {}) {
  const recorded: ActionRecord[] = [];
  const lines: string[] = [];
  const intervener = new Intervener({
    computation: 'sum',
    target,
    alerters: [new LogAlerter((line) => lines.push(line))],
    record: (entry) => recorded.push(entry),
    ...extra,
  });
  return { intervener, recorded, lines };
}

const statuses = (records: readonly ActionRecord[]): string[] => records.map((record) => record.outcome.status);

describe('Intervener rate limits', () => {
  const rollback: PlannedAction = { kind: 'rollback', limit: { max: 3, perEpochs: 100 } };

  it('allows at most max actions within perEpochs, then again once the window has passed', async () => {
    const primary = new FakePrimary({});
    const { intervener } = setup(primary);
    const records = await intervener.intervene([10, 11, 12, 13, 109, 112].map((epoch) => decision(epoch, [rollback])));
    assert.deepEqual(statuses(records), ['applied', 'applied', 'applied', 'rate-limited', 'rate-limited', 'applied']);
    assert.deepEqual(primary.rollbacks, ['epoch 10', 'epoch 11', 'epoch 12', 'epoch 112']);
    assert.equal(records[3]?.outcome.detail, 'at most 3 rollback per 100 epochs');
  });

  it('still counts earlier actions after a rollback took the epochs backwards', async () => {
    const primary = new FakePrimary({});
    const { intervener } = setup(primary);
    const records = await intervener.intervene([50, 51, 52, 40].map((epoch) => decision(epoch, [rollback])));
    assert.deepEqual(statuses(records), ['applied', 'applied', 'applied', 'rate-limited']);
  });

  it('keeps its counts across a restart through saveState', async () => {
    const first = setup(new FakePrimary({})).intervener;
    await first.intervene([1, 2].map((epoch) => decision(epoch, [rollback])));
    const saved = JSON.parse(JSON.stringify(first.saveState())) as unknown;
    const primary = new FakePrimary({});
    const { intervener } = setup(primary, { state: saved });
    assert.deepEqual(statuses(await intervener.intervene([3, 4].map((epoch) => decision(epoch, [rollback])))), ['applied', 'rate-limited']);
    assert.throws(() => setup(primary, { state: { version: 2 } }), PolicyError);
  });
});

describe('Intervener dry run', () => {
  it('changes nothing and sends nothing, but records what it would have done', async () => {
    const primary = new FakePrimary({ memoryBytes: 100 * MiB });
    const { intervener, recorded, lines } = setup(primary);
    const records = await intervener.intervene([
      decision(
        5,
        [
          { kind: 'alert', status: 'firing', alert: 'predict-failure', severity: 'critical' },
          { kind: 'rollback' },
          { kind: 'raise-memory', factor: 1.5 },
        ],
        true,
      ),
    ]);
    assert.deepEqual(primary.current, { memoryBytes: 100 * MiB });
    assert.deepEqual(primary.rollbacks, []);
    assert.deepEqual(lines, []);
    assert.deepEqual(
      records.map((record) => [record.kind, record.outcome.status, record.outcome.detail, record.dryRun]),
      [
        ['alert', 'dry-run', 'would send firing alert predict-failure to 1 sink(s)', true],
        ['rollback', 'dry-run', 'would recover p0', true],
        ['raise-memory', 'dry-run', `would raise memoryBytes ${100 * MiB} -> ${150 * MiB}`, true],
      ],
    );
    assert.deepEqual(recorded, records, 'every action reaches the record callback');
  });
});

describe('Intervener resources and failures', () => {
  it('raises a limit by its factor up to its maximum, then skips', async () => {
    const primary = new FakePrimary({ memoryBytes: 100 * MiB, cpuShare: 1 });
    const { intervener } = setup(primary);
    const raise: PlannedAction = { kind: 'raise-memory', factor: 1.5, max: 200 * MiB };
    const records = await intervener.intervene([1, 2, 3].map((epoch) => decision(epoch, [raise])));
    assert.deepEqual(statuses(records), ['applied', 'applied', 'skipped']);
    const second = `memoryBytes ${150 * MiB} -> ${200 * MiB}: takes effect at the next epoch`;
    assert.equal(records[1]?.outcome.detail, second);
    assert.equal(records[2]?.outcome.detail, `memoryBytes is already at its maximum (${200 * MiB})`);
    assert.deepEqual(primary.current, { memoryBytes: 200 * MiB, cpuShare: 1 });

    const [cpu] = await intervener.intervene([decision(4, [{ kind: 'raise-cpu', factor: 1.3 }])]);
    assert.equal(cpu?.outcome.status, 'applied');
    assert.equal(primary.current.cpuShare, 1.3);
  });

  it('skips a raise when the limit is not set', async () => {
    const primary = new FakePrimary({});
    const { intervener } = setup(primary);
    const [record] = await intervener.intervene([decision(1, [{ kind: 'raise-epoch-budget', factor: 2 }])]);
    assert.deepEqual(record?.outcome, {
      status: 'skipped',
      detail: 'no epochBudget limit is set, so there is nothing to raise',
    });
    assert.deepEqual(primary.current, {});
  });

  it('records a target that throws as a failed action and carries on', async () => {
    const primary = new FakePrimary({ epochBudget: 1000 });
    primary.failWith = 'no stable checkpoint yet';
    const records = await setup(primary).intervener.intervene([
      decision(1, [{ kind: 'rollback' }, { kind: 'raise-epoch-budget', factor: 2 }]),
    ]);
    assert.deepEqual(
      records.map((record) => record.outcome),
      [
        { status: 'failed', detail: 'no stable checkpoint yet' },
        { status: 'applied', detail: 'epochBudget 1000 -> 2000: takes effect at the next epoch' },
      ],
    );
    assert.equal(primary.current.epochBudget, 2000);
  });

  it('says so when there is no sink to alert', async () => {
    const [record] = await setup(new FakePrimary({}), { alerters: [] }).intervener.intervene([
      decision(1, [{ kind: 'alert', status: 'firing', alert: 'warn', severity: 'warning' }]),
    ]);
    assert.deepEqual(record?.outcome, { status: 'skipped', detail: 'no alert sinks configured for firing alert warn' });
  });
});

describe('policy to intervention', () => {
  it('turns a score sequence under a file policy into the logged actions', async () => {
    const policy = parsePolicy(
      `
levels:
  - { name: warn, enter: 0.6, exit: 0.5, consecutive: 2, actions: [alert] }
  - { name: predict-failure, enter: 0.85, exit: 0.7, actions: [alert, rollback, raise-memory] }
rateLimits: { rollback: { max: 1, perEpochs: 100 } }
raise: { memory: { factor: 2 } }
`,
      'policy.yaml',
    );
    const evaluator = new PolicyEvaluator(policy);
    const primary = new FakePrimary({ memoryBytes: 64 * MiB });
    const { intervener, recorded, lines } = setup(primary);
    const scores = [0.2, 0.65, 0.7, 0.9, 0.3, 0.9, 0.1];
    for (const [i, score] of scores.entries()) {
      await intervener.intervene(evaluator.evaluate({ vm, epoch: i + 1, score }));
    }
    assert.deepEqual(
      recorded.map((record) => `${record.epoch} ${record.kind} ${record.outcome.status}`),
      [
        '3 alert queued',
        '4 alert queued',
        '4 alert queued',
        '4 rollback applied',
        '4 raise-memory applied',
        '5 alert queued',
        '6 alert queued',
        '6 rollback rate-limited',
        '6 raise-memory applied',
        '7 alert queued',
      ],
    );
    assert.equal(primary.rollbacks.length, 1);
    assert.equal(primary.current.memoryBytes, 256 * MiB);
    assert.deepEqual(
      lines.map((line) => line.split(' ').slice(0, 4).join(' ')),
      [
        'shadowvm alert firing warn',
        'shadowvm alert resolved warn',
        'shadowvm alert firing predict-failure',
        'shadowvm alert resolved predict-failure',
        'shadowvm alert firing predict-failure',
        'shadowvm alert resolved predict-failure',
      ],
    );
    assert.match(recorded[3]?.reason ?? '', /^score 0\.900 at or above predict-failure's enter threshold 0\.85/);
  });
});
