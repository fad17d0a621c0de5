// The analysis engine: per computation, per VM (or primary/shadow pair) and per feature, one
// detector instance; per VM one memory forecaster. observe() turns an epoch's features into a
// score per VM, and save()/restore() carry every model's state with a checkpoint. A feature may
// be scored by an ONNX model instead of a built-in detector; close() frees the models' workers.

import { z } from 'zod';
import type { Agreement } from '../drivers/types.js';
import type { Detector, DetectorState, Forecaster } from './detector.js';
import { HoltForecaster } from './detectors/holt.js';
import { DetectorStateError } from './errors.js';
import { type EpochFeatures, pairFeatureValues, vmFeatureValues } from './features.js';
import { OnnxDetector, OnnxModel } from './onnx.js';
import { createDetector } from './registry.js';

/** A detector by registry name, with its options. */
export interface DetectorSpec {
  readonly name: string;
  readonly options?: Record<string, unknown>;
}

/** An ONNX model file scoring the last `window` values of a feature (see onnx.ts). */
export interface ModelSpec {
  /** Absolute path of the .onnx file. */
  readonly model: string;
  readonly window: number;
}

export interface EngineOptions {
  /** Detector (registry name and options) used for a feature unless `byFeature` names another. */
  readonly detector?: DetectorSpec;
  /** Per feature name (features.ts), the detector or model that scores it instead of the default. */
  readonly byFeature?: Readonly<Record<string, DetectorSpec | ModelSpec>>;
  /** Options of the Holt memory forecaster. */
  readonly forecaster?: Record<string, unknown>;
  /** Memory ceiling in pages when a VM's features carry none. */
  readonly memoryLimitBytes?: number;
  /** How the computation's replicas agree (its driver's): picks the detectors of the diff features. */
  readonly agreement?: Agreement;
}

export interface VmScore {
  readonly vm: string;
  readonly epoch: number;
  /** Max over features, in [0,1]. */
  readonly score: number;
  readonly byFeature: Readonly<Record<string, number>>;
  /** Present when memory is forecast to reach the VM's ceiling. */
  readonly forecast?: { readonly feature: string; readonly crossesAt: number };
}

export interface EngineState {
  readonly version: 1;
  readonly detectors: Readonly<Record<string, DetectorState>>;
  readonly forecasters: Readonly<Record<string, DetectorState>>;
}

const stateSchema = z.object({
  version: z.literal(1),
  detectors: z.record(z.string(), z.object({ detector: z.string(), data: z.record(z.string(), z.json()) })),
  forecasters: z.record(z.string(), z.object({ detector: z.string(), data: z.record(z.string(), z.json()) })),
});

const SEP = '\u0000';
/**
 * Memory grows steadily in healthy runs; Holt follows the trend and flags breaks from it.
 * Replicas are deterministic, so any state difference is a failure signal from the first epoch.
 */
const EXACT_BY_FEATURE: Readonly<Record<string, DetectorSpec>> = {
  memoryBytes: { name: 'holt' },
  'diff.differingPages': { name: 'divergence' },
  'diff.outputMismatches': { name: 'divergence' },
  'diff.syscallMismatches': { name: 'divergence' },
};
/**
 * Free-running replicas differ benignly every epoch (timing, caches, progress): the diff features
 * are learned like any other series, over a short warm-up, and only a break from their own
 * history scores. A series that was flat (e.g. no differing answer so far) makes any move score.
 * How many pages differ swings with the host's timing: a clone pair measured 300-350 differing
 * pages per epoch on an idle host and 480 right after a checkpoint pause, more under load. The
 * scale of that count is therefore at least half its median: only a several-fold jump in memory
 * divergence stands out, which the first few tight points alone would not teach.
 */
const learnedAnswers: DetectorSpec = { name: 'robust-zscore', options: { window: 64, warmup: 4 } };
const learnedPageDrift: DetectorSpec = { name: 'robust-zscore', options: { window: 64, warmup: 4, relativeScale: 0.5 } };
const DRIFT_BY_FEATURE: Readonly<Record<string, DetectorSpec>> = {
  memoryBytes: { name: 'holt' },
  'diff.differingPages': learnedPageDrift,
  'diff.outputMismatches': learnedAnswers,
  'diff.syscallMismatches': { name: 'divergence' },
};
const MEMORY = 'memoryBytes';

export class AnalysisEngine {
  private readonly detectors = new Map<string, Detector>();
  private readonly forecasters = new Map<string, Forecaster>();
  /** Loaded once per file and window, shared by the detectors of every VM. */
  private readonly models = new Map<string, OnnxModel>();

  constructor(private readonly options: EngineOptions = {}) {}

  observe(features: EpochFeatures): VmScore[] {
    const byVm = new Map<string, Record<string, number>>();
    const add = (vm: string, values: Record<string, number>): void => {
      const scores = byVm.get(vm) ?? {};
      for (const [feature, value] of Object.entries(values)) {
        if (!Number.isFinite(value)) continue;
        scores[feature] = this.detector(features.computation, vm, feature).update(value);
      }
      byVm.set(vm, scores);
    };
    for (const v of features.vms) add(v.vm, vmFeatureValues(v));
    for (const p of features.pairs) add(p.shadow, pairFeatureValues(p));
    return [...byVm].map(([vm, byFeature]) => {
      const score = Math.max(0, ...Object.values(byFeature));
      const forecast = this.forecastMemory(features, vm);
      return { vm, epoch: features.epoch, score, byFeature, ...(forecast !== undefined ? { forecast } : {}) };
    });
  }

  /** Drops every model of a finished computation, so state stays bounded. */
  forget(computation: string): void {
    const prefix = `${computation}${SEP}`;
    for (const map of [this.detectors, this.forecasters]) for (const key of [...map.keys()]) if (key.startsWith(prefix)) map.delete(key);
  }

  /** Frees the workers of the ONNX models; a later observe() loads a model again if it needs it. */
  close(): void {
    for (const model of this.models.values()) model.close();
    this.models.clear();
  }

  save(): EngineState {
    return {
      version: 1,
      detectors: Object.fromEntries([...this.detectors].map(([k, d]) => [k, d.save()])),
      forecasters: Object.fromEntries([...this.forecasters].map(([k, f]) => [k, f.save()])),
    };
  }

  restore(state: EngineState): void {
    const parsed = stateSchema.safeParse(state);
    if (!parsed.success) throw new DetectorStateError('analysis-engine', parsed.error.issues[0]?.message ?? 'malformed');
    this.detectors.clear();
    this.forecasters.clear();
    for (const [key, s] of Object.entries(parsed.data.detectors)) {
      const [computation = '', vm = '', feature = ''] = key.split(SEP);
      this.detector(computation, vm, feature).restore(s);
    }
    for (const [key, s] of Object.entries(parsed.data.forecasters)) {
      const forecaster = new HoltForecaster(this.options.forecaster);
      forecaster.restore(s);
      this.forecasters.set(key, forecaster);
    }
  }

  private detector(computation: string, vm: string, feature: string): Detector {
    const key = [computation, vm, feature].join(SEP);
    let detector = this.detectors.get(key);
    if (detector === undefined) {
      const defaults = this.options.agreement === 'drift' ? DRIFT_BY_FEATURE : EXACT_BY_FEATURE;
      const spec = this.options.byFeature?.[feature] ?? defaults[feature] ?? this.options.detector ?? { name: 'ensemble' };
      detector = 'model' in spec ? new OnnxDetector(this.model(spec)) : createDetector(spec.name, spec.options);
      this.detectors.set(key, detector);
    }
    return detector;
  }

  private model(spec: ModelSpec): OnnxModel {
    const key = [spec.model, spec.window].join(SEP);
    let model = this.models.get(key);
    if (model === undefined) {
      model = OnnxModel.open(spec.model, { window: spec.window });
      this.models.set(key, model);
    }
    return model;
  }

  private forecastMemory(features: EpochFeatures, vm: string): VmScore['forecast'] {
    const v = features.vms.find((x) => x.vm === vm);
    if (v === undefined) return undefined;
    const key = [features.computation, vm].join(SEP);
    let forecaster = this.forecasters.get(key);
    if (forecaster === undefined) {
      forecaster = new HoltForecaster(this.options.forecaster);
      this.forecasters.set(key, forecaster);
    }
    forecaster.update(v.memoryBytes);
    const limit = v.memoryLimitBytes ?? this.options.memoryLimitBytes;
    if (limit === undefined) return undefined;
    const crossing = forecaster.forecastCrossing(limit);
    return crossing === null ? undefined : { feature: MEMORY, crossesAt: crossing.epochs };
  }
}
