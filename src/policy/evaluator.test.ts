import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision } from './decision.js';
import { PolicyError } from './errors.js';
import { type ForecastInput, PolicyEvaluator } from './evaluator.js';
import { defaultPolicy, parsePolicy } from './parse.js';
import type { VmIdentity } from './resolve.js';

const primary: VmIdentity = { id: 'p', role: 'primary', profile: 'worker/v8-default' };
const shadow: VmIdentity = { id: 's1', role: 'shadow', profile: 'worker/v8-default' };

/** One line per decision: "epoch cause level: action action…", easy to compare as a whole. */
function summary(decision: Decision): string {
  const actions = decision.actions.map((action) => (action.kind === 'alert' ? `${action.status}(${action.alert})` : action.kind));
  return `${decision.epoch} ${decision.cause} ${decision.level ?? '-'}: ${actions.join(' ')}`;
}

/** Feeds scores as epochs 1, 2, … and returns every decision, summarised. */
function feed(evaluator: PolicyEvaluator, scores: readonly number[], vm = primary, firstEpoch = 1): string[] {
  return scores.flatMap((score, i) => evaluator.evaluate({ vm, epoch: firstEpoch + i, score }).map(summary));
}

describe('PolicyEvaluator levels (built-in: warn 0.6/0.5 ×2, predict-failure 0.85/0.7 ×1)', () => {
  it('enters warn only after two consecutive epochs at or above 0.6', () => {
    assert.deepEqual(feed(new PolicyEvaluator(defaultPolicy()), [0.65, 0.3, 0.65, 0.61, 0.62]), ['4 level-up warn: firing(warn)']);
  });

  it('holds a level while the score stays above its exit threshold, leaves it below', () => {
    assert.deepEqual(feed(new PolicyEvaluator(defaultPolicy()), [0.7, 0.7, 0.55, 0.51, 0.5, 0.49, 0.55]), [
      '2 level-up warn: firing(warn)',
      '6 level-down -: resolved(warn)',
    ]);
  });

  it('jumps straight to predict-failure, then steps down through warn', () => {
    assert.deepEqual(feed(new PolicyEvaluator(defaultPolicy()), [0.1, 0.9, 0.75, 0.65, 0.52, 0.3]), [
      '2 level-up predict-failure: firing(predict-failure) rollback',
      '4 level-down warn: resolved(predict-failure) firing(warn)',
      '6 level-down -: resolved(warn)',
    ]);
  });

  it('goes up from warn, resolving the warn alert', () => {
    assert.deepEqual(feed(new PolicyEvaluator(defaultPolicy()), [0.7, 0.7, 0.8, 0.86]), [
      '2 level-up warn: firing(warn)',
      '4 level-up predict-failure: resolved(warn) firing(predict-failure) rollback',
    ]);
  });

  it('ignores a score that is not a number', () => {
    assert.deepEqual(feed(new PolicyEvaluator(defaultPolicy()), [0.7, Number.NaN, 0.7]), ['3 level-up warn: firing(warn)']);
  });

  it('keeps each VM on its own track and applies its overrides', () => {
    const policy = parsePolicy('overrides:\n  - match: { role: shadow }\n    dryRun: true\n', 'policy.yaml');
    const evaluator = new PolicyEvaluator(policy);
    assert.deepEqual(feed(evaluator, [0.9], shadow), ['1 level-up predict-failure: firing(predict-failure) rollback']);
    assert.deepEqual(feed(evaluator, [0.1], primary), []);
    const [decision] = evaluator.evaluate({ vm: shadow, epoch: 2, score: 0.1 });
    assert.equal(decision?.dryRun, true);
    assert.equal(evaluator.evaluate({ vm: primary, epoch: 2, score: 0.9 })[0]?.dryRun, false);
  });

  it('puts the policy rate limits and raise factors into the planned actions', () => {
    const policy = parsePolicy(
      'levels: [{ name: grow, enter: 0.5, exit: 0.4, actions: [raise-cpu, rollback] }]\n' +
        'raise: { cpu: { factor: 2, max: 4 } }\nrateLimits: { rollback: { max: 1, perEpochs: 7 } }',
      'policy.yaml',
    );
    const [decision] = new PolicyEvaluator(policy).evaluate({ vm: primary, epoch: 1, score: 0.5 });
    assert.deepEqual(decision?.actions, [
      { kind: 'raise-cpu', factor: 2, max: 4, limit: { max: 3, perEpochs: 100 } },
      { kind: 'rollback', limit: { max: 1, perEpochs: 7 } },
    ]);
    assert.equal(decision?.reason, "score 0.500 at or above grow's enter threshold 0.5 for 1 consecutive epoch");
  });
});

describe('PolicyEvaluator forecasts (built-in: memory within 40 epochs → raise-memory ×1.5)', () => {
  function forecasts(evaluator: PolicyEvaluator, inputs: readonly (ForecastInput | undefined)[]): string[] {
    return inputs.flatMap((forecast, i) => evaluator.evaluate({ vm: primary, epoch: i + 1, score: 0, forecast }).map(summary));
  }

  it('acts once when the crossing enters the horizon and re-arms when it leaves', () => {
    const evaluator = new PolicyEvaluator(defaultPolicy());
    assert.deepEqual(
      forecasts(evaluator, [{ memory: 100 }, { memory: 30 }, { memory: 25 }, undefined, {}, { memory: null }, { memory: 12 }]),
      ['2 forecast -: raise-memory', '7 forecast -: raise-memory'],
    );
    const [decision] = new PolicyEvaluator(defaultPolicy()).evaluate({
      vm: primary,
      epoch: 3,
      score: 0,
      forecast: { memory: 40 },
    });
    assert.equal(decision?.reason, 'memory limit predicted to be crossed in 40 epochs (horizon 40)');
    assert.deepEqual(decision?.actions, [{ kind: 'raise-memory', factor: 1.5, max: 2 ** 31, limit: { max: 3, perEpochs: 100 } }]);
  });

  it('resolves a forecast alert when the crossing leaves the horizon', () => {
    const policy = parsePolicy('forecast: { cpu: { horizonEpochs: 5, action: alert }, memory: null }', 'policy.yaml');
    assert.deepEqual(forecasts(new PolicyEvaluator(policy), [{ cpu: 3, memory: 1 }, { cpu: 9 }]), [
      '1 forecast -: firing(forecast-cpu)',
      '2 forecast -: resolved(forecast-cpu)',
    ]);
  });
});

describe('PolicyEvaluator state', () => {
  it('saves mid-streak and resumes exactly, through JSON', () => {
    const before = new PolicyEvaluator(defaultPolicy());
    assert.deepEqual(feed(before, [0.7, 0.7, 0.9, 0.65]), [
      '2 level-up warn: firing(warn)',
      '3 level-up predict-failure: resolved(warn) firing(predict-failure) rollback',
      '4 level-down warn: resolved(predict-failure) firing(warn)',
    ]);
    before.evaluate({ vm: primary, epoch: 5, score: 0.1, forecast: { memory: 10 } });
    const saved = JSON.parse(JSON.stringify(before.saveState())) as unknown;

    const after = new PolicyEvaluator(defaultPolicy(), saved);
    assert.deepEqual(feed(after, [0.7, 0.7], primary, 6), ['7 level-up warn: firing(warn)']);
    const stillArmed = after.evaluate({ vm: primary, epoch: 8, score: 0.7, forecast: { memory: 9 } });
    assert.deepEqual(stillArmed, [], 'the memory forecast already acted before the save');
    assert.deepEqual(after.saveState(), {
      version: 1,
      vms: { p: { level: 'warn', streaks: { warn: 3, 'predict-failure': 0 }, forecasts: ['memory'] } },
    });
  });

  it('rejects a saved state that is not one', () => {
    assert.throws(() => new PolicyEvaluator(defaultPolicy(), { version: 1, vms: { p: { level: 3 } } }), PolicyError);
  });

  it('keeps the level when the policy is replaced, and applies the new thresholds', () => {
    const evaluator = new PolicyEvaluator(defaultPolicy());
    assert.deepEqual(feed(evaluator, [0.7, 0.7]), ['2 level-up warn: firing(warn)']);
    evaluator.setPolicy(parsePolicy('levels: [{ name: warn, enter: 0.6, exit: 0.2, actions: [alert] }]', 'v2.yaml'));
    assert.deepEqual(feed(evaluator, [0.3, 0.1], primary, 3), ['4 level-down -: resolved(warn)']);
  });
});
