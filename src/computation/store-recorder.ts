// Records a running computation into the store: VMs, inputs, the differential log (one
// transaction per epoch), checkpoints (content-addressed), and the audit trail of events.

import type { CheckpointStore } from '../checkpoints/page-store.js';
import type { EpochMetrics, InputRecord, SnapshotDelta, StateDigest, VmEnd } from '../drivers/types.js';
import type { DivergenceAppend, Store } from '../store/types.js';
import type { CheckpointInfo, ComputationEvent, ComputationRecorder, DivergenceRecord, VmInfo } from './ports.js';

export class StoreRecorder implements ComputationRecorder {
  readonly divergences: DivergenceRecord[] = [];
  readonly events: ComputationEvent[] = [];
  readonly checkpoints: CheckpointInfo[] = [];
  private lastCheckpointId: string | undefined;
  /** Every divergence is the shadow's difference from the primary; vmCreated sets it before any epoch. */
  private primaryVmId = '';

  constructor(
    private readonly computationId: string,
    private readonly store: Store,
    private readonly checkpointStore: CheckpointStore,
    private readonly onEvent: (event: ComputationEvent) => void = () => {},
  ) {}

  vmCreated(vm: VmInfo): void {
    if (vm.role === 'primary') this.primaryVmId = vm.id;
    this.store.vms.create({
      computationId: this.computationId,
      vmId: vm.id,
      role: vm.role,
      profile: { name: vm.profile, dimensions: vm.dimensions },
    });
    this.store.vms.setStatus(this.computationId, vm.id, 'running');
  }

  vmEnded(vmId: string, end: VmEnd): void {
    this.store.vms.end(this.computationId, vmId, end);
  }

  inputs(records: readonly InputRecord[]): void {
    this.store.inputs.append(this.computationId, records);
  }

  epoch(record: {
    epoch: number;
    verified: boolean;
    metrics: ReadonlyMap<string, EpochMetrics & { lagMs: number }>;
    divergences: readonly DivergenceRecord[];
  }): void {
    const metrics: Record<string, EpochMetrics> = {};
    for (const [vmId, { lagMs, ...measured }] of record.metrics) {
      metrics[vmId] = { ...measured, extra: { ...measured.extra, lagMs } };
    }
    this.divergences.push(...record.divergences);
    this.store.difflog.appendEpoch({
      record: { computationId: this.computationId, epoch: record.epoch, attempt: 1, verified: record.verified, metrics },
      divergences: record.divergences.flatMap((d) => this.toAppends(d)),
    });
  }

  event(event: ComputationEvent): void {
    this.events.push(event);
    this.store.audit.appendEvent({
      computationId: this.computationId,
      vmId: event.vmId ?? null,
      epoch: event.epoch,
      kind: event.kind,
      message: event.message,
      detail: event.detail ? (JSON.parse(JSON.stringify(event.detail)) as Record<string, never>) : null,
    });
    this.onEvent(event);
  }

  checkpoint(delta: SnapshotDelta, digest: StateDigest, verified: boolean): CheckpointInfo {
    const stored = this.checkpointStore.create(this.computationId, delta, this.lastCheckpointId, digest);
    if (verified) this.checkpointStore.markVerified(stored.id);
    this.lastCheckpointId = stored.id;
    const info: CheckpointInfo = {
      id: stored.id,
      epoch: delta.epoch,
      verified,
      storedPages: delta.changed.size,
      totalPages: delta.pageCount,
      digest,
      driverState: delta.driverState,
    };
    this.checkpoints.push(info);
    return info;
  }

  checkpointPage(checkpointId: string, page: number): Uint8Array {
    return this.checkpointStore.readPage(checkpointId, page);
  }

  loggedBytes(): number {
    return this.store.stats(this.computationId).bytesLogged;
  }

  /** One divergence record per respect in which the shadow differs. */
  private toAppends(record: DivergenceRecord): DivergenceAppend[] {
    const base = { computationId: this.computationId, epoch: record.epoch, attempt: 1, vmId: record.vmId, peerVmId: this.primaryVmId };
    const { difference } = record;
    const appends: DivergenceAppend[] = [];
    if (difference.pages.length > 0) {
      const first = difference.pages[0];
      appends.push({
        divergence: {
          ...base,
          kind: 'pages',
          pageCount: difference.pages.length,
          summary: `${difference.pages.length} page(s) differ (first: ${first})`,
        },
        deltas: record.deltas.map(({ page, delta }) => ({ page, delta })),
      });
    }
    if (difference.registers.length > 0) {
      appends.push({
        divergence: {
          ...base,
          kind: 'registers',
          pageCount: 0,
          registers: difference.registers,
          summary: `registers differ: ${difference.registers.map((r) => r.name).join(', ')}`,
        },
        deltas: [],
      });
    }
    if (difference.outputs.length > 0) {
      appends.push({
        divergence: {
          ...base,
          kind: 'output',
          pageCount: 0,
          outputs: difference.outputs,
          summary: `output differs: ${difference.outputs.map((o) => o.stream).join(', ')}`,
        },
        deltas: [],
      });
    }
    if (record.inputMismatch) {
      const { expected, got } = record.inputMismatch;
      appends.push({
        divergence: { ...base, kind: 'input', pageCount: 0, expected, got, summary: `asked for ${got}; the primary's log has ${expected}` },
        deltas: [],
      });
    } else if (difference.end) {
      const { primary, shadow } = difference.end;
      appends.push({
        divergence: { ...base, kind: 'exit', pageCount: 0, primary, shadow, summary: `primary ${primary}, shadow ${shadow}` },
        deltas: [],
      });
    }
    return appends;
  }
}
