// One replica of a computation as the loop sees it: a name that stays (primary, shadow1…), the VM
// of its current incarnation (a rollback or a re-fork makes the next one), and what that VM said
// at the current barrier. Every request to the VM goes through call(), which settles when the VM
// ends or stops answering: no request outlives its VM, so the loop cannot wait forever.

import type { DiversityProfile, EpochReport, Fault, Role, Vm, VmEnd } from '../drivers/types.js';
import { describeEnd } from '../drivers/vm-end.js';
import { ShadowvmError } from '../errors.js';

/** A request to a VM that ended, or did not answer in time. */
export class ReplicaRequestError extends ShadowvmError {
  constructor(replica: string, what: string, why: string) {
    super('replica-request', `${replica} could not ${what}: ${why}`, 1);
  }
}

export class Replica {
  readonly vmId: string;
  /** The VM's report for the current barrier epoch, once it arrived. */
  report: EpochReport | undefined;
  reportedAt: number | undefined;
  /** How the VM ended, once it did. */
  end: VmEnd | undefined;
  /** What the VM asked for that the primary's log did not have there. */
  mismatch: { readonly expected: string; readonly got: string } | undefined;
  /** Faults to inject at the next barrier. */
  readonly pendingFaults: Fault[] = [];
  /** Restored VMs: the checkpoint epoch it must reach and verify; undefined once verified (or none). */
  restoring: number | undefined;
  private goneNow!: (end: VmEnd) => void;
  /** Settles when the VM is gone, with how it ended. */
  readonly gone: Promise<VmEnd>;

  constructor(
    readonly name: string,
    readonly role: Role,
    readonly profile: DiversityProfile,
    readonly generation: number,
    readonly vm: Vm,
    /** Epochs before this one are catch-up: reported but not waited for. */
    readonly joinEpoch: number,
  ) {
    this.vmId = vm.id;
    this.gone = new Promise((resolve) => {
      this.goneNow = resolve;
    });
  }

  get ended(): boolean {
    return this.end !== undefined;
  }

  /** At the barrier: it reported the barrier epoch or is gone (and the barrier need not wait). */
  settled(): boolean {
    return this.ended || this.report !== undefined;
  }

  markGone(end: VmEnd): void {
    if (this.end !== undefined) return;
    this.end = end;
    this.goneNow(end);
  }

  /**
   * Runs one request to the VM. It fails (ReplicaRequestError) as soon as the VM ends, or when it
   * takes longer than `timeoutMs`: a request that never answers is a bug of its driver, reported
   * as such instead of leaving the computation waiting.
   */
  async call<T>(what: string, timeoutMs: number, request: (vm: Vm) => Promise<T>): Promise<T> {
    if (this.end !== undefined) throw new ReplicaRequestError(this.name, what, `it has ended (${describeEnd(this.end)})`);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ReplicaRequestError(this.name, what, `no answer in ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const ended = this.gone.then((end): never => {
      throw new ReplicaRequestError(this.name, what, `it ended (${describeEnd(end)})`);
    });
    try {
      return await Promise.race([request(this.vm), ended, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
