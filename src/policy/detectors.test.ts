// The policy's `detectors` section: a feature scored by a model file or a built-in detector, and
// every way to get it wrong refused in one line naming the field and the fix.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnalysisEngine } from '../analysis/engine.js';
import type { VmFeatures } from '../analysis/features.js';
import { meanAbsModel } from '../analysis/onnx-model.fixture.js';
import { PolicyError } from './errors.js';
import { loadPolicyFile, parsePolicy } from './parse.js';

describe('the detectors section of a policy file', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'shadowvm-policy-detectors-'));
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'models', 'mean-abs.onnx'), meanAbsModel(4));
    writeFileSync(join(dir, 'models', 'garbage.onnx'), 'not a model');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes `text` as policy.yaml beside models/ and loads it. */
  function load(text: string) {
    const path = join(dir, 'policy.yaml');
    writeFileSync(path, text);
    return loadPolicyFile(path);
  }

  async function rejection(text: string): Promise<string> {
    try {
      await load(text);
    } catch (error) {
      assert.ok(error instanceof PolicyError, String(error));
      assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
      return error.message.slice(`${join(dir, 'policy.yaml')}: `.length);
    }
    assert.fail('the policy was accepted');
  }

  const vm = (epoch: number, epochWallMs: number): VmFeatures => ({
    vm: 'p',
    role: 'primary',
    epoch,
    epochWallMs,
    wallTimeRatio: 1,
    instructionsPerSecond: 1e6,
    memoryBytes: 4096,
    memoryGrowthBytes: 0,
    syscalls: 1,
    extra: {},
  });

  it('names a model file per feature, relative to the policy file, and the engine scores that feature with it', async () => {
    const policy = await load(
      'detectors:\n' +
        '  epochWallMs: { detector: onnx, model: models/mean-abs.onnx, window: 4 }\n' +
        '  syscalls: { detector: robust-zscore, options: { window: 32 } }\n',
    );
    assert.deepEqual(policy.detectors, {
      epochWallMs: { model: join(dir, 'models', 'mean-abs.onnx'), window: 4 },
      syscalls: { name: 'robust-zscore', options: { window: 32 } },
    });
    const engine = new AnalysisEngine({ byFeature: policy.detectors });
    try {
      const scores = [0.2, -0.4, 0.6, -0.8].map(
        (wallMs, epoch) => engine.observe({ computation: 'c', epoch, vms: [vm(epoch, wallMs)], pairs: [] })[0]?.byFeature.epochWallMs,
      );
      assert.deepEqual(scores.slice(0, 3), [0, 0, 0]);
      assert.ok(Math.abs((scores[3] ?? 0) - 0.5) < 1e-6, `the model's mean |x| of the window, got ${scores[3]}`);
    } finally {
      engine.close();
    }
  });

  it('refuses a model file that is not there', async () => {
    assert.match(
      await rejection('detectors:\n  memoryBytes: { detector: onnx, model: models/missing.onnx, window: 4 }\n'),
      /^detectors\.memoryBytes\.model: models\/missing\.onnx not found \(looked for .*models\/missing\.onnx\); give the path of an ONNX file relative to the policy file$/,
    );
  });

  it('refuses a model that does not load, or cannot score a window of the size given', async () => {
    assert.match(
      await rejection('detectors:\n  memoryBytes: { detector: onnx, model: models/garbage.onnx, window: 4 }\n'),
      /^detectors\.memoryBytes\.model: models\/garbage\.onnx cannot score a window of 4 values \(.*model cannot be loaded.*\); give a model with one float input of shape \[1, 4\] and one output$/,
    );
    assert.match(
      await rejection('detectors:\n  memoryBytes: { detector: onnx, model: models/mean-abs.onnx, window: 3 }\n'),
      /^detectors\.memoryBytes\.model: models\/mean-abs\.onnx cannot score a window of 3 values \(.*inference failed.*\)/,
    );
  });

  it('refuses a window that is not a positive whole number', async () => {
    for (const window of ['0', '2.5', '-1', 'four']) {
      assert.match(
        await rejection(`detectors:\n  memoryBytes: { detector: onnx, model: models/mean-abs.onnx, window: ${window} }\n`),
        /^detectors\.memoryBytes\.window: must be a whole number between 1 and 100000/,
      );
    }
  });

  it('refuses an unknown feature, an unknown detector, bad options and a misspelt key', async () => {
    assert.match(
      await rejection('detectors:\n  memoryByte: { detector: ewma }\n'),
      /^detectors\.memoryByte: is not a feature; the features are epochWallMs, .*memoryBytes, .*diff\.differingPages, .* and extra\.<driver counter>/,
    );
    assert.match(
      await rejection('detectors:\n  memoryBytes: { detector: lstm }\n'),
      /^detectors\.memoryBytes\.detector: must be onnx \(with model and window\) or a built-in detector \(robust-zscore, ewma, /,
    );
    assert.match(
      await rejection('detectors:\n  memoryBytes: { detector: robust-zscore, options: { windw: 8 } }\n'),
      /^detectors\.memoryBytes\.options: are not valid: invalid options for detector "robust-zscore"/,
    );
    assert.match(
      await rejection('detectors:\n  memoryBytes: { detector: onnx, model: models/mean-abs.onnx, windw: 4 }\n'),
      /^detectors\.memoryBytes\.windw: unknown setting; remove it or fix its spelling \(did you mean "window"\?\)/,
    );
  });

  it('accepts a driver counter as a feature', async () => {
    assert.deepEqual((await load('detectors:\n  extra.tlbMisses: { detector: ewma }\n')).detectors, {
      'extra.tlbMisses': { name: 'ewma' },
    });
  });

  it('refuses a model in a policy that is not a file: the service reads no file a request names', () => {
    assert.throws(
      () => parsePolicy('detectors:\n  memoryBytes: { detector: onnx, model: models/mean-abs.onnx, window: 4 }\n', 'body.policy'),
      (error: unknown) =>
        error instanceof PolicyError &&
        error.message ===
          'body.policy: detectors.memoryBytes.model: only a policy file can name a model file; give this policy with shadowvm run --policy FILE',
    );
  });
});
