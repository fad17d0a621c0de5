// What the Intervener acts on. The manager implements it for a computation's primary, so this
// layer never touches a VM, a driver or a checkpoint store directly.

import type { ResourceLimits } from '../drivers/types.js';

/** What an intervention did, in one line for the action log. */
export interface Outcome {
  readonly ok: boolean;
  readonly detail: string;
}

export interface InterventionTarget {
  /** The primary's current limits, from which a `raise-*` action computes the new one. */
  limits(): ResourceLimits;
  /** Rolls the primary back to its most recent stable checkpoint. */
  rollback(reason: string): Promise<Outcome>;
  /** Sets new limits on the primary (only the fields given change). */
  adjustResources(change: ResourceLimits): Promise<Outcome>;
}
