// Every alert that fired stays open until something resolves it, and says what did: the score
// came back under its exit threshold (the policy), the replica it was about was recovered (its
// incarnation is gone, so no score will ever come down for it), or the computation ended.

import type { Intervener } from '../interventions/index.js';
import type { Severity, VmIdentity } from '../policy/index.js';
import type { ActionCause } from '../store/types.js';
import type { ComputationRecorder } from './ports.js';

interface OpenAlert {
  readonly id: number;
  readonly vm: VmIdentity;
  readonly name: string;
  readonly severity: Severity;
  /** What fired it: a resolution's action row links back to it. */
  readonly cause: ActionCause;
}

export class AlertBook {
  private readonly open = new Map<string, OpenAlert>();

  constructor(
    private readonly recorder: ComputationRecorder,
    private readonly intervener: Intervener,
  ) {}

  /** A policy alert went to the sinks as firing. */
  fired(vm: VmIdentity, name: string, severity: Severity, epoch: number, reason: string, cause: ActionCause): void {
    const key = keyOf(vm.id, name);
    if (this.open.has(key)) return;
    const stored = this.recorder.openAlert({ vmId: vm.id, name, severity, epoch, reason });
    this.open.set(key, { id: stored.id, vm, name, severity, cause });
  }

  /** A policy resolution went to the sinks. */
  resolved(vmId: string, name: string, epoch: number, reason: string): void {
    const alert = this.open.get(keyOf(vmId, name));
    if (alert === undefined) return;
    this.open.delete(keyOf(vmId, name));
    this.recorder.resolveAlert(alert.id, epoch, reason);
  }

  /** The cause that fired an open alert (a policy resolution's row links to it). */
  causeOf(vmId: string, name: string): ActionCause | undefined {
    return this.open.get(keyOf(vmId, name))?.cause;
  }

  /** Resolves, at the sinks too, every open alert about one VM (or all of them). */
  resolveAll(epoch: number, reason: string, vmId?: string): void {
    for (const [key, alert] of [...this.open]) {
      if (vmId !== undefined && alert.vm.id !== vmId) continue;
      this.open.delete(key);
      const outcome = this.intervener.resolve(alert.vm, alert, epoch, reason);
      this.recorder.resolveAlert(alert.id, epoch, reason);
      this.recorder.action({
        epoch,
        kind: 'alert',
        vmId: alert.vm.id,
        actor: 'manager',
        cause: alert.cause,
        reason: `resolved alert ${alert.name}: ${reason}`,
        status: outcome.status,
        outcome: outcome.detail,
        dryRun: false,
      });
    }
  }
}

function keyOf(vmId: string, name: string): string {
  return `${vmId}\u0000${name}`;
}
