import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShadowvmError } from '../errors.js';
import { PolicyError } from './errors.js';
import { defaultPolicy, loadPolicyFile, parsePolicy } from './parse.js';

function rejection(text: string): string {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    assert.ok(error instanceof PolicyError);
    assert.ok(error instanceof ShadowvmError);
    assert.equal(error.code, 'policy-invalid');
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail('the policy was accepted');
}

const yamlPolicy = `
levels:
  - { name: warn, enter: 0.5, exit: 0.4, consecutive: 3, actions: [alert] }
  - { name: predict-failure, enter: 0.9, exit: 0.8, actions: [alert, rollback], severity: critical }
forecast:
  memory: { horizonEpochs: 20, action: raise-memory, factor: 2 }
rateLimits:
  rollback: { max: 1, perEpochs: 50 }
dryRun: true
alerts:
  webhooks: [http://127.0.0.1:9/hook]
  alertmanagers: [http://127.0.0.1:9093]
  delivery: { maxAttempts: 2 }
overrides:
  - match: { role: shadow }
    dryRun: false
`;

describe('parsePolicy', () => {
  it('gives the built-in defaults without a file and for an empty one', () => {
    const policy = defaultPolicy();
    assert.deepEqual(
      policy.defaults.levels.map((level) => [level.name, level.enter, level.exit, level.consecutive]),
      [
        ['warn', 0.6, 0.5, 2],
        ['predict-failure', 0.85, 0.7, 1],
      ],
    );
    assert.deepEqual(policy.defaults.forecast.memory, { horizonEpochs: 40, action: 'raise-memory', factor: 1.5 });
    assert.deepEqual(policy.defaults.rateLimits.rollback, { max: 3, perEpochs: 100 });
    assert.equal(policy.defaults.dryRun, false);
    assert.equal(policy.alerts.log, true);
    assert.deepEqual({ ...parsePolicy('', 'empty.yaml'), source: 'built-in defaults' }, policy);
  });

  it('reads a YAML file, fills what it leaves out, and reads the same policy from JSON', () => {
    const policy = parsePolicy(yamlPolicy, 'policy.yaml');
    assert.deepEqual(policy.defaults.levels[0], {
      name: 'warn',
      enter: 0.5,
      exit: 0.4,
      consecutive: 3,
      actions: ['alert'],
      severity: 'warning',
    });
    assert.equal(policy.defaults.levels[1]?.consecutive, 1);
    assert.deepEqual(policy.defaults.rateLimits.rollback, { max: 1, perEpochs: 50 });
    assert.deepEqual(policy.defaults.rateLimits.alert, { max: 10, perEpochs: 100 }, 'inherited');
    assert.equal(policy.defaults.dryRun, true);
    assert.deepEqual(policy.alerts.webhooks, ['http://127.0.0.1:9/hook']);
    assert.equal(policy.alerts.delivery.maxAttempts, 2);
    assert.equal(policy.alerts.delivery.timeoutMs, 5000, 'inherited');
    assert.deepEqual(policy.overrides, [{ match: { role: 'shadow' }, patch: { dryRun: false } }]);

    const asJson = JSON.stringify({
      levels: [
        { name: 'warn', enter: 0.5, exit: 0.4, consecutive: 3, actions: ['alert'] },
        { name: 'predict-failure', enter: 0.9, exit: 0.8, actions: ['alert', 'rollback'], severity: 'critical' },
      ],
      forecast: { memory: { horizonEpochs: 20, action: 'raise-memory', factor: 2 } },
      rateLimits: { rollback: { max: 1, perEpochs: 50 } },
      dryRun: true,
      alerts: {
        webhooks: ['http://127.0.0.1:9/hook'],
        alertmanagers: ['http://127.0.0.1:9093'],
        delivery: { maxAttempts: 2 },
      },
      overrides: [{ match: { role: 'shadow' }, dryRun: false }],
    });
    assert.deepEqual({ ...parsePolicy(asJson, 'policy.json'), source: 'policy.yaml' }, policy);
  });

  it('names the file, the field and the fix for a bad value', () => {
    assert.equal(
      rejection('levels:\n  - {name: warn, enter: 0.6, exit: 0.5}\n  - {name: pf, enter: 1.5, exit: 0.7}\n'),
      'policy.yaml: levels[1].enter: must be a number between 0 and 1 (got 1.5)',
    );
    assert.equal(
      rejection('forecast: {memory: {horizonEpochs: 0, action: raise-memory}}'),
      'policy.yaml: forecast.memory.horizonEpochs: must be a whole number between 1 and 1000000 (got 0)',
    );
    assert.equal(
      rejection('rateLimits: {rollback: {max: 2}}'),
      'policy.yaml: rateLimits.rollback.perEpochs: is missing; it must be a whole number between 1 and 1000000',
    );
    assert.match(
      rejection('levels:\n  - {name: warn, enter: 0.6, exit: 0.5, actions: [reboot]}'),
      /levels\[0\]\.actions\[0\]: must be one of alert, rollback/,
    );
    assert.match(rejection('alerts: {webhooks: [ftp://host/x]}'), /alerts\.webhooks\[0\]: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(rejection('dryRun: yes'), /^policy\.yaml: dryRun: must be true or false \(got "yes"\)$/);
    assert.match(rejection('[1, 2]'), /^policy\.yaml: \(top level\): must be a mapping of settings/);
    assert.match(
      rejection('overrides:\n  - match: {}\n    dryRun: true'),
      /overrides\[0\]\.match: must name at least one of id, role, profile/,
    );
  });

  it('rejects unknown keys, suggesting the closest known one', () => {
    assert.match(
      rejection('levels:\n  - {name: warn, entr: 0.6, exit: 0.5}\n'),
      /^policy\.yaml: levels\[0\]\.entr: unknown setting; remove it or fix its spelling \(did you mean "enter"\?\)/,
    );
    assert.match(rejection('levles: []'), /levles: unknown setting.*did you mean "levels"/);
    assert.match(rejection('alerts: {zzz: 1}'), /alerts\.zzz: unknown setting.*allowed here: webhooks, alertmanagers, log/);
  });

  it('checks levels against each other', () => {
    assert.match(rejection('levels:\n  - {name: warn, enter: 0.6, exit: 0.6}'), /levels\[0\]\.exit: must be lower than enter \(0\.6\)/);
    assert.match(
      rejection('levels:\n  - {name: a, enter: 0.6, exit: 0.5}\n  - {name: b, enter: 0.5, exit: 0.4}'),
      /levels\[1\]\.enter: must be higher than levels\[0\]\.enter \(0\.6\)/,
    );
    assert.match(
      rejection('levels:\n  - {name: a, enter: 0.6, exit: 0.5}\n  - {name: a, enter: 0.7, exit: 0.4}'),
      /levels\[1\]\.name: must be unique/,
    );
  });

  it('reports text that is neither YAML nor JSON with its position', () => {
    assert.match(rejection('levels: [1\ndryRun: true\n'), /^policy\.yaml: not valid YAML or JSON: .*line 2, column 1$/);
  });

  it('names an unreadable file', async () => {
    await assert.rejects(loadPolicyFile('/nonexistent/shadowvm-policy.yaml'), (error: unknown) => {
      assert.ok(error instanceof PolicyError);
      assert.match(error.message, /^\/nonexistent\/shadowvm-policy\.yaml: cannot read the policy file/);
      return true;
    });
  });
});
