// What the Intervener acts on. The loop implements it for its computation, so this layer never
// touches a VM, a driver or a checkpoint store directly.

import type { ResourceLimits } from '../drivers/types.js';
import type { VmIdentity } from '../policy/resolve.js';

/** What an intervention did, in one line for the action log. */
export interface Outcome {
  readonly ok: boolean;
  readonly detail: string;
}

export interface InterventionTarget {
  /** The primary's current limits, from which a `raise-*` action computes the new one. */
  limits(): ResourceLimits;
  /**
   * Recovers the replica predicted to fail (the policy's `rollback` action): the primary rolls back
   * to its last verified checkpoint, a shadow is re-forked. Resolves once done, with what happened.
   */
  recover(vm: VmIdentity, reason: string): Promise<Outcome>;
  /** Sets new limits on the primary (only the fields given change). */
  adjustResources(change: ResourceLimits): Promise<Outcome>;
}
