// An InterventionTarget with observable state, standing in for a computation's loop.

import type { ResourceLimits } from '../drivers/types.js';
import type { VmIdentity } from '../policy/resolve.js';
import type { InterventionTarget, Outcome } from './target.js';

export class FakePrimary implements InterventionTarget {
  current: ResourceLimits;
  /** The reason of every recovery that happened, in order. */
  readonly rollbacks: string[] = [];
  /** The VM of every recovery, in order. */
  readonly recovered: string[] = [];
  failWith: string | undefined;

  constructor(limits: ResourceLimits) {
    this.current = limits;
  }

  limits(): ResourceLimits {
    return this.current;
  }

  async recover(vm: VmIdentity, reason: string): Promise<Outcome> {
    if (this.failWith !== undefined) throw new Error(this.failWith);
    this.rollbacks.push(reason);
    this.recovered.push(vm.id);
    return { ok: true, detail: `rolled back to checkpoint ${this.rollbacks.length}` };
  }

  async adjustResources(change: ResourceLimits): Promise<Outcome> {
    this.current = { ...this.current, ...change };
    return { ok: true, detail: 'takes effect at the next epoch' };
  }
}
