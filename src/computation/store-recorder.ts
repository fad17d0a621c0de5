// Records a running computation into the store: VMs, inputs, the differential log (one
// transaction per resolution of a barrier: epoch, pairwise divergences, verdict), checkpoints
// (content-addressed), the timeline of events, the action rows and the alerts.

import type { CheckpointStore } from '../checkpoints/page-store.js';
import type { VerdictId, VerdictResolution } from '../difflog/types.js';
import type { EpochMetrics, InputRecord, SnapshotDelta, StateDigest, VmEnd } from '../drivers/types.js';
import type { DivergenceAppend, Json, Store, StoredAction, StoredAlert } from '../store/types.js';
import type {
  ActionEntry,
  AlertEntry,
  CheckpointInfo,
  ComputationEvent,
  ComputationRecorder,
  DivergenceRecord,
  VerdictEntry,
  VmInfo,
} from './ports.js';

export class StoreRecorder implements ComputationRecorder {
  readonly divergences: DivergenceRecord[] = [];
  readonly verdicts: (VerdictEntry & { id: VerdictId; resolution: VerdictResolution | null })[] = [];
  readonly events: ComputationEvent[] = [];
  readonly actions: StoredAction[] = [];
  readonly checkpoints: CheckpointInfo[] = [];
  private lastCheckpointId: string | undefined;

  constructor(
    private readonly computationId: string,
    private readonly store: Store,
    private readonly checkpointStore: CheckpointStore,
    private readonly onEvent: (event: ComputationEvent) => void = () => {},
    /** Every action row, once written, whoever wrote it (the loop, the alert book). */
    private readonly onAction: (action: StoredAction) => void = () => {},
  ) {}

  vmCreated(vm: VmInfo): void {
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
    attempt: number;
    verified: boolean;
    metrics: ReadonlyMap<string, EpochMetrics & { lagMs: number }>;
    divergences: readonly DivergenceRecord[];
    verdict?: VerdictEntry;
  }): VerdictId | null {
    const metrics: Record<string, EpochMetrics> = {};
    for (const [vmId, { lagMs, ...measured }] of record.metrics) {
      metrics[vmId] = { ...measured, extra: { ...measured.extra, lagMs } };
    }
    this.divergences.push(...record.divergences);
    const { verdictId } = this.store.difflog.appendEpoch({
      record: { computationId: this.computationId, epoch: record.epoch, attempt: record.attempt, verified: record.verified, metrics },
      divergences: record.divergences.flatMap((d) => this.toAppends(d)),
      ...(record.verdict ? { verdict: { computationId: this.computationId, ...record.verdict } } : {}),
    });
    if (record.verdict && verdictId !== null) this.verdicts.push({ ...record.verdict, id: verdictId, resolution: null });
    return verdictId;
  }

  resolveVerdict(id: VerdictId, resolution: VerdictResolution): void {
    this.store.difflog.resolveVerdict(id, resolution);
    const verdict = this.verdicts.find((v) => v.id === id);
    if (verdict) verdict.resolution = resolution;
  }

  event(event: ComputationEvent): void {
    this.events.push(event);
    this.store.audit.appendEvent({
      computationId: this.computationId,
      vmId: event.vmId ?? null,
      epoch: event.epoch,
      kind: event.kind,
      message: event.message,
      detail: event.detail ? (JSON.parse(JSON.stringify(event.detail)) as Json) : null,
    });
    this.onEvent(event);
  }

  action(action: ActionEntry): StoredAction {
    const stored = this.store.audit.appendAction({ computationId: this.computationId, ...action });
    this.actions.push(stored);
    this.onAction(stored);
    return stored;
  }

  openAlert(alert: AlertEntry): StoredAlert {
    return this.store.audit.openAlert({ computationId: this.computationId, ...alert });
  }

  resolveAlert(id: number, epoch: number, reason: string): void {
    this.store.audit.resolveAlert(id, { epoch, reason });
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

  /** The alerts of this computation as the store holds them (open ones say so). */
  alerts(): StoredAlert[] {
    return this.store.audit.listAlerts(this.computationId);
  }

  /** One divergence record per respect in which the replicas differ. */
  private toAppends(record: DivergenceRecord): DivergenceAppend[] {
    const base = {
      computationId: this.computationId,
      epoch: record.epoch,
      attempt: record.attempt,
      vmId: record.vmId,
      peerVmId: record.peerVmId,
    };
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
