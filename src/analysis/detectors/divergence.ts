// For features of deterministic replicas (differing pages, output or input mismatches): a healthy
// pair never differs, so there is no baseline to learn and no warm-up to wait for. Any difference
// is a failure signal at once; its size only moves the score within the failure band.

import { z } from 'zod';
import type { Detector, DetectorState } from '../detector.js';
import { parseOptions, parseState } from '../state.js';

const NAME = 'divergence';

const optionsSchema = z
  .object({
    /** Score of the smallest difference (one page, one mismatch). */
    floor: z.number().min(0).max(1).default(0.9),
  })
  .strict();

export class DivergenceDetector implements Detector {
  readonly name = NAME;
  private readonly floor: number;

  constructor(options?: Record<string, unknown>) {
    this.floor = parseOptions(NAME, options, optionsSchema).floor;
  }

  update(value: number): number {
    if (!(value > 0)) return 0;
    // 1 difference → floor; 1000 or more → 1.
    return Math.min(1, this.floor + ((1 - this.floor) * Math.log10(value)) / 3);
  }

  save(): DetectorState {
    return { detector: NAME, data: {} };
  }

  restore(state: DetectorState): void {
    parseState(NAME, state, z.object({}));
  }
}
