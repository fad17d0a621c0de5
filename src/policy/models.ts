// The detectors a policy names per feature, checked before anything runs: a model file must be
// there and must load as a model that scores a window of the size given, or the policy is refused
// in one line naming the field and the fix (rather than the computation failing at its first epoch).

import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { DetectorSpec, ModelSpec } from '../analysis/engine.js';
import { OnnxModelError } from '../analysis/errors.js';
import { OnnxModel } from '../analysis/onnx.js';
import { PolicyError } from './errors.js';
import type { PolicyFile } from './schema.js';

type Entry = NonNullable<PolicyFile['detectors']>[string];

/**
 * The engine's per-feature specs for a policy's `detectors` section. Model paths are relative to
 * `modelDirectory`, the policy file's; a policy that is not a file (one sent to the service) has
 * none and may name no model: the service reads no file that a request names.
 */
export function featureDetectors(
  section: NonNullable<PolicyFile['detectors']>,
  sourceName: string,
  modelDirectory: string | undefined,
): Record<string, DetectorSpec | ModelSpec> {
  return Object.fromEntries(
    Object.entries(section).map(([feature, entry]) => [
      feature,
      featureDetector(entry, `${sourceName}: detectors.${feature}`, modelDirectory),
    ]),
  );
}

function featureDetector(entry: Entry, field: string, modelDirectory: string | undefined): DetectorSpec | ModelSpec {
  if (!('model' in entry)) return { name: entry.detector, ...(entry.options !== undefined ? { options: entry.options } : {}) };
  const { model, window } = entry;
  if (modelDirectory === undefined)
    throw new PolicyError(`${field}.model: only a policy file can name a model file; give this policy with shadowvm run --policy FILE`);
  const path = isAbsolute(model) ? model : resolve(modelDirectory, model);
  if (!existsSync(path))
    throw new PolicyError(
      `${field}.model: ${model} not found (looked for ${path}); give the path of an ONNX file relative to the policy file`,
    );
  try {
    const loaded = OnnxModel.open(path, { window });
    try {
      loaded.score(new Array<number>(window).fill(0));
    } finally {
      loaded.close();
    }
  } catch (error) {
    if (!(error instanceof OnnxModelError)) throw error;
    throw new PolicyError(
      `${field}.model: ${model} cannot score a window of ${window} values (${error.message}); give a model with one float input of shape [1, ${window}] and one output`,
    );
  }
  return { model: path, window };
}
