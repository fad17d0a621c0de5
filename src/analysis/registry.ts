// Name → factory for every detector the analysis engine and the NAB harness can run, plus
// plug-ins: any ES module exporting `createDetector` (a DetectorFactory).

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Detector, DetectorFactory } from './detector.js';
import { CusumDetector } from './detectors/cusum.js';
import { DivergenceDetector } from './detectors/divergence.js';
import { EnsembleDetector } from './detectors/ensemble.js';
import { EwmaDetector } from './detectors/ewma.js';
import { HoltForecaster } from './detectors/holt.js';
import { NoveltyDetector } from './detectors/novelty.js';
import { RegimeDetector } from './detectors/regime.js';
import { RobustZScoreDetector } from './detectors/robust-zscore.js';
import { DetectorPluginError, UnknownDetectorError } from './errors.js';
import { parseOptions } from './state.js';

const memberSpec = z.union([z.string(), z.object({ name: z.string(), options: z.record(z.string(), z.unknown()).optional() })]);
const ensembleOptions = z
  .object({
    // regime is the strongest built-in on NAB (pattern novelty plus new extremes of the value, its
    // moving average and its daily-seasonal difference); see detectors/regime.ts. Adding members
    // under 'max' only added false alarms there (bench/nab/loco.ts measures such choices).
    members: z.array(memberSpec).min(1).default(['regime']),
    combine: z.enum(['max', 'mean']).default('max'),
  })
  .strict();

const factories = new Map<string, DetectorFactory>([
  ['robust-zscore', (o) => new RobustZScoreDetector(o)],
  ['ewma', (o) => new EwmaDetector(o)],
  ['cusum', (o) => new CusumDetector(o)],
  ['holt', (o) => new HoltForecaster(o)],
  ['novelty', (o) => new NoveltyDetector(o)],
  ['regime', (o) => new RegimeDetector(o)],
  ['divergence', (o) => new DivergenceDetector(o)],
  [
    'ensemble',
    (o) => {
      const { members, combine } = parseOptions('ensemble', o, ensembleOptions);
      return new EnsembleDetector(
        members.map((m) => (typeof m === 'string' ? createDetector(m) : createDetector(m.name, m.options))),
        combine,
      );
    },
  ],
]);

export function detectorNames(): string[] {
  return [...factories.keys()];
}

export function createDetector(name: string, options?: Record<string, unknown>): Detector {
  const factory = factories.get(name);
  if (factory === undefined) throw new UnknownDetectorError(name, detectorNames());
  return factory(options);
}

/** Adds (or replaces) a detector under `name`, e.g. one loaded with `loadPlugin`. */
export function registerDetector(name: string, factory: DetectorFactory): void {
  factories.set(name, factory);
}

function isDetector(value: unknown): value is Detector {
  if (value === null || typeof value !== 'object') return false;
  const d = value as Record<string, unknown>;
  return typeof d.name === 'string' && typeof d.update === 'function' && typeof d.save === 'function' && typeof d.restore === 'function';
}

/**
 * Imports an ES module exporting `createDetector`, checks that it builds a Detector, and returns
 * the detector's name with the factory (the caller decides whether to register it).
 */
export async function loadPlugin(path: string): Promise<{ name: string; factory: DetectorFactory }> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new DetectorPluginError(path, `cannot be imported (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const create = module.createDetector;
  if (typeof create !== 'function') throw new DetectorPluginError(path, 'must export a function named createDetector');
  let sample: unknown;
  try {
    sample = create();
  } catch (error) {
    throw new DetectorPluginError(path, `createDetector() threw: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isDetector(sample))
    throw new DetectorPluginError(path, 'createDetector() must return an object with name, update, save and restore');
  const factory = create as DetectorFactory;
  return { name: sample.name, factory };
}
