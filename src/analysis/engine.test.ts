import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AnalysisEngine } from './engine.js';
import type { EpochFeatures } from './features.js';
import { meanAbsModel } from './onnx-model.fixture.js';
import { gaussianNoise } from './testing.js';

/** A primary with steady timing, a shadow whose pages start to differ at epoch 300, leaking memory. */
function epoch(e: number, noise: number): EpochFeatures {
  const vm = (name: string, role: 'primary' | 'shadow') => ({
    vm: name,
    role,
    epoch: e,
    epochWallMs: 50 + noise,
    wallTimeRatio: 1,
    instructionsPerSecond: 1e6,
    memoryBytes: 100 + 2 * e,
    memoryGrowthBytes: 2,
    memoryLimitBytes: 2000,
    syscalls: 10,
    extra: {},
  });
  return {
    computation: 'job',
    epoch: e,
    vms: [vm('p', 'primary'), vm('s', 'shadow')],
    pairs: [
      {
        primary: 'p',
        shadow: 's',
        epoch: e,
        differingPages: e >= 300 ? 40 : 0,
        diffBytes: 0,
        outputMismatches: 0,
        syscallMismatches: 0,
        shadowLagMs: 1,
      },
    ],
  };
}

test('the engine flags the diverging shadow, forecasts memory exhaustion, and restores exactly', () => {
  const noise = gaussianNoise(9, 400);
  const engine = new AnalysisEngine();
  let restored: AnalysisEngine | undefined;
  for (let e = 0; e < 400; e++) {
    const scores = engine.observe(epoch(e, noise[e]!));
    const shadow = scores.find((s) => s.vm === 's')!;
    if (e === 250) {
      restored = new AnalysisEngine();
      restored.restore(JSON.parse(JSON.stringify(engine.save())));
    } else if (restored !== undefined) {
      assert.deepEqual(restored.observe(epoch(e, noise[e]!)), scores);
    }
    if (e > 50 && e < 300)
      assert.ok(shadow.score < 0.5, `epoch ${e}: quiet before the divergence, got ${JSON.stringify(shadow.byFeature)}`);
    if (e === 300) assert.ok((shadow.byFeature['diff.differingPages'] ?? 0) >= 0.5, 'divergence flagged at once');
    if (e === 399) {
      // memory 898 pages growing 2 per epoch, ceiling 2000: about 551 epochs left
      assert.ok(shadow.forecast !== undefined && Math.abs(shadow.forecast.crossesAt - 551) <= 3, JSON.stringify(shadow.forecast));
    }
  }
});

test('with free-running replicas, benign page differences are learned and a differing answer stands out', () => {
  const noise = gaussianNoise(5, 40);
  const free = (e: number, differingAnswers: number): EpochFeatures => ({
    computation: 'free',
    epoch: e,
    vms: [],
    pairs: [
      {
        primary: 'p',
        shadow: 's',
        epoch: e,
        // about 6% of a 32k-page guest differs between free-running twins, epoch after epoch
        differingPages: Math.round(2000 + 60 * noise[e]!),
        diffBytes: 0,
        outputMismatches: differingAnswers,
        syscallMismatches: 0,
        shadowLagMs: 1,
      },
    ],
  });
  const exact = new AnalysisEngine();
  assert.equal(exact.observe(free(0, 0))[0]!.score, 1, 'deterministic replicas: any difference is a failure');
  const drift = new AnalysisEngine({ agreement: 'drift' });
  for (let e = 0; e < 30; e++) {
    const score = drift.observe(free(e, 0))[0]!.score;
    assert.ok(score < 0.5, `epoch ${e}: benign drift scored ${score}`);
  }
  const fault = drift.observe(free(30, 3))[0]!;
  assert.ok((fault.byFeature['diff.outputMismatches'] ?? 0) >= 0.85, JSON.stringify(fault.byFeature));
});

test('with free-running replicas, a page count that swings with the host stays quiet and a several-fold jump stands out', () => {
  const pages = (e: number, differingPages: number): EpochFeatures => ({
    computation: 'free',
    epoch: e,
    vms: [],
    pairs: [
      { primary: 'p', shadow: 's', epoch: e, differingPages, diffBytes: 0, outputMismatches: 0, syscallMismatches: 0, shadowLagMs: 1 },
    ],
  });
  const drift = new AnalysisEngine({ agreement: 'drift' });
  // A clone pair measured here: three tight epochs, then the epoch after a checkpoint pause (a CI
  // run under load predicted a failure on exactly this shape), then a doubling under load.
  const measured = [333, 331, 351, 482, 320, 356, 640, 330];
  measured.forEach((count, e) => {
    const score = drift.observe(pages(e, count))[0]!.score;
    assert.ok(score < 0.5, `epoch ${e}: ${count} differing pages scored ${score}`);
  });
  const burst = drift.observe(pages(measured.length, 3400))[0]!;
  assert.ok((burst.byFeature['diff.differingPages'] ?? 0) >= 0.85, JSON.stringify(burst.byFeature));
});

test('a feature given an ONNX model is scored by it, for every VM, and the other features keep their detectors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-engine-onnx-'));
  const model = join(dir, 'mean-abs.onnx');
  writeFileSync(model, meanAbsModel(4));
  const engine = new AnalysisEngine({ byFeature: { epochWallMs: { model, window: 4 } } });
  const wallMs = [0.2, -0.4, 0.6, -0.8, 0.1];
  const byVm = (e: number) => {
    const at = epoch(e, 0);
    const features = { ...at, vms: at.vms.map((v) => ({ ...v, epochWallMs: wallMs[e]! })) };
    return new Map(engine.observe(features).map((score) => [score.vm, score.byFeature]));
  };
  try {
    for (let e = 0; e < 3; e++) assert.equal(byVm(e).get('p')?.epochWallMs, 0, 'no full window yet');
    const full = byVm(3);
    for (const vm of ['p', 's']) {
      assert.ok(Math.abs((full.get(vm)?.epochWallMs ?? 0) - 0.5) < 1e-6, `${vm}: mean |x| of the window, ${JSON.stringify(full.get(vm))}`);
    }
    assert.equal(full.get('s')?.['diff.differingPages'], 0, 'the diff features keep the divergence detector');
    engine.close();
    const next = byVm(4).get('p')?.epochWallMs ?? 0;
    assert.ok(Math.abs(next - (0.4 + 0.6 + 0.8 + 0.1) / 4) < 1e-6, `after close(), the model loads again for the next epoch, got ${next}`);
  } finally {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
