import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy } from './parse.js';
import { resolvePolicy } from './resolve.js';

const policy = parsePolicy(
  `
rateLimits:
  rollback: { max: 5, perEpochs: 100 }
overrides:
  - match: { id: shadow-7 }
    dryRun: false
    raise: { memory: { max: 1000 } }
  - match: { role: shadow }
    dryRun: true
    forecast: { memory: null }
    rateLimits: { rollback: null, alert: { max: 1, perEpochs: 10 } }
  - match: { profile: process/liftoff-only }
    levels: [{ name: strict, enter: 0.3, exit: 0.2, actions: [alert] }]
`,
  'policy.yaml',
);

describe('resolvePolicy', () => {
  it('gives a VM no override matches the computation defaults', () => {
    const settings = resolvePolicy(policy, { id: 'p', role: 'primary', profile: 'worker/v8-default' });
    assert.deepEqual(settings, policy.defaults);
  });

  it('applies a role override key by key, null removing an inherited entry', () => {
    const settings = resolvePolicy(policy, { id: 'shadow-1', role: 'shadow', profile: 'worker/v8-default' });
    assert.equal(settings.dryRun, true);
    assert.equal(settings.forecast.memory, undefined);
    assert.equal(settings.rateLimits.rollback, undefined);
    assert.deepEqual(settings.rateLimits.alert, { max: 1, perEpochs: 10 });
    assert.deepEqual(settings.rateLimits['raise-memory'], { max: 3, perEpochs: 100 });
    assert.deepEqual(settings.levels, policy.defaults.levels);
  });

  it('lets an id override beat a role override listed after it, and stacks profile overrides', () => {
    const settings = resolvePolicy(policy, { id: 'shadow-7', role: 'shadow', profile: 'process/liftoff-only' });
    assert.equal(settings.dryRun, false, 'id beats role');
    assert.deepEqual(settings.raise.memory, { factor: 1.5, max: 1000 }, 'factor inherited, max set');
    assert.deepEqual(
      settings.levels.map((level) => level.name),
      ['strict'],
    );
    assert.equal(settings.forecast.memory, undefined, 'the role override still applies');
  });
});
