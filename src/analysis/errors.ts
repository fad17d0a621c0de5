// Errors of the analysis layer: each names the problem and the fix in one line.

import { ShadowvmError } from '../errors.js';

/** A saved state does not belong to this detector or is malformed. */
export class DetectorStateError extends ShadowvmError {
  constructor(detector: string, problem: string) {
    super('bad-detector-state', `cannot restore detector "${detector}": ${problem}`);
  }
}

/** Options given to a detector factory are invalid. */
export class DetectorOptionsError extends ShadowvmError {
  constructor(detector: string, problem: string) {
    super('bad-detector-options', `invalid options for detector "${detector}": ${problem}`);
  }
}

/** No detector is registered under the requested name. */
export class UnknownDetectorError extends ShadowvmError {
  constructor(name: string, known: readonly string[]) {
    super('unknown-detector', `unknown detector "${name}"; known detectors: ${known.join(', ')}`);
  }
}

/** A plug-in module could not be loaded or does not export a usable `createDetector`. */
export class DetectorPluginError extends ShadowvmError {
  constructor(path: string, problem: string) {
    super('bad-detector-plugin', `detector plug-in ${path}: ${problem}`);
  }
}

/** An ONNX model cannot serve as a detector (unreadable, wrong inputs/outputs, failed run). */
export class OnnxModelError extends ShadowvmError {
  constructor(problem: string) {
    super('bad-onnx-model', `ONNX detector: ${problem}`);
  }
}
