// Combines detectors that see the same series: the maximum (any member alarms) or the mean
// (members must agree). Each member keeps its own state; the ensemble's state is theirs.

import { z } from 'zod';
import type { Detector, DetectorState } from '../detector.js';
import { DetectorOptionsError } from '../errors.js';
import { parseState } from '../state.js';

const NAME = 'ensemble';

export type Combine = 'max' | 'mean';

const memberStateSchema = z.object({ detector: z.string(), data: z.record(z.string(), z.json()) });

export class EnsembleDetector implements Detector {
  readonly name = NAME;

  constructor(
    private readonly members: readonly Detector[],
    private readonly combine: Combine = 'max',
  ) {
    if (members.length === 0) throw new DetectorOptionsError(NAME, 'needs at least one member');
  }

  update(value: number, timestampMs?: number): number {
    let max = 0;
    let sum = 0;
    for (const member of this.members) {
      const s = member.update(value, timestampMs);
      sum += s;
      if (s > max) max = s;
    }
    return this.combine === 'max' ? max : sum / this.members.length;
  }

  save(): DetectorState {
    return { detector: NAME, data: { members: this.members.map((m) => m.save() as unknown as z.infer<typeof memberStateSchema>) } };
  }

  restore(state: DetectorState): void {
    const { members } = parseState(NAME, state, z.object({ members: z.array(memberStateSchema).length(this.members.length) }));
    for (const [i, s] of members.entries()) this.members[i]!.restore(s);
  }
}
