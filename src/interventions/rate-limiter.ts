// Caps how often each kind of intervention runs, counted in epochs rather than wall time so a
// slow or paused computation is judged by its progress. Epochs run backwards after a rollback, so
// an action counts against every epoch within `perEpochs` of it on either side: a computation that
// keeps rolling back to the same stretch keeps hitting the same budget instead of escaping it.

import * as z from 'zod';
import { PolicyError } from '../policy/errors.js';
import { ACTION_KINDS, type ActionKind, type RateLimit } from '../policy/schema.js';

/** Older entries cannot matter: no limit allows more than this many actions per window. */
const HISTORY_PER_KIND = 1000;

const rateLimiterStateSchema = z.strictObject({
  version: z.literal(1),
  epochs: z.partialRecord(z.enum(ACTION_KINDS), z.array(z.number().int())),
});

export type RateLimiterState = z.output<typeof rateLimiterStateSchema>;

export class RateLimiter {
  readonly #epochs = new Map<ActionKind, number[]>();

  /** `state` is what `save()` returned (possibly through JSON); it is validated. */
  constructor(state?: unknown) {
    if (state === undefined) return;
    const result = rateLimiterStateSchema.safeParse(state);
    if (!result.success) {
      throw new PolicyError('saved intervention rate-limit state is not usable; start without it');
    }
    for (const [kind, epochs] of Object.entries(result.data.epochs) as [ActionKind, number[]][]) {
      this.#epochs.set(kind, [...epochs]);
    }
  }

  /** Counts an action of `kind` at `epoch` and returns true, or returns false if over `limit`. */
  take(kind: ActionKind, epoch: number, limit: RateLimit | undefined): boolean {
    const epochs = this.#epochs.get(kind) ?? [];
    if (limit !== undefined) {
      const recent = epochs.filter((earlier) => Math.abs(epoch - earlier) < limit.perEpochs).length;
      if (recent >= limit.max) return false;
    }
    epochs.push(epoch);
    this.#epochs.set(kind, epochs.slice(-HISTORY_PER_KIND));
    return true;
  }

  save(): RateLimiterState {
    const epochs: RateLimiterState['epochs'] = {};
    for (const [kind, list] of this.#epochs) epochs[kind] = [...list];
    return { version: 1, epochs };
  }
}
