// One computation: a primary and its shadows, met at every epoch barrier. The loop of the mission
// lives in resolveEpoch: sync → diff → vote → (rollback | re-fork) → commit → checkpoint.

import { SnapshotDeferredError } from '../drivers/snapshot-deferred.js';
import type {
  DiversityProfile,
  Driver,
  EpochReport,
  Fault,
  InputRecord,
  ResourceLimits,
  RestoreTarget,
  SnapshotDelta,
  StateDigest,
  Vm,
  VmEnd,
} from '../drivers/types.js';
import { describeEnd } from '../drivers/vm-end.js';
import { ShadowvmError } from '../errors.js';
import { encodePageDelta } from '../pages/xor-delta.js';
import { InputLog } from '../replication/input-log.js';
import { compareReports, isIdentical, missingState, type StateDifference, stateKey } from '../sync/compare.js';
import { type Verdict, vote } from '../sync/vote.js';
import { type ComputationConfig, plannedFaultFor } from './config.js';
import type { CheckpointInfo, ComputationRecorder, DivergenceRecord, EpochObserver, OutputSink, VmInfo } from './ports.js';

export interface ReplicaSummary extends VmInfo {
  readonly generation: number;
  readonly end?: string;
}

export interface ComputationResult {
  readonly id: string;
  readonly end: VmEnd;
  readonly epochs: number;
  readonly verifiedEpochs: number;
  readonly divergences: number;
  readonly rollbacks: number;
  readonly reforks: number;
  readonly checkpoints: number;
  readonly wallMs: number;
  readonly replicas: readonly ReplicaSummary[];
  readonly loggedBytes: number;
  readonly fullCaptureBytes: number;
  readonly inputRecords: number;
}

interface Slot {
  readonly name: string;
  readonly role: 'primary' | 'shadow';
  readonly profile: DiversityProfile;
  generation: number;
  vm: Vm;
  /** The VM's report for the current barrier epoch, once it arrived. */
  report?: EpochReport;
  reportedAt?: number;
  /** Epochs before this one are catch-up: reported but not waited for. */
  joinEpoch: number;
  restoreCheck?: { epoch: number; key: string };
  mismatch?: { expected: string; got: string };
  end?: VmEnd;
  gone: boolean;
  pendingFaults: Fault[];
}

/** Thrown out of run() when the computation cannot continue (not a guest's own failure). */
export class ComputationFailedError extends ShadowvmError {
  constructor(message: string) {
    super('computation-failed', message);
  }
}

export class Computation {
  private readonly slots: Slot[] = [];
  private readonly log = new InputLog();
  private barrierEpoch = 1;
  private lastCheckpoint: CheckpointInfo | undefined;
  private lastVerifiedCheckpoint: CheckpointInfo | undefined;
  private readonly retries = new Map<number, number>();
  private resolving = false;
  private finished = false;
  private settle!: { resolve: (result: ComputationResult) => void; reject: (error: Error) => void };
  private readonly startedAt = performance.now();
  private stats = { verifiedEpochs: 0, divergences: 0, rollbacks: 0, reforks: 0, checkpoints: 0, fullCaptureBytes: 0 };
  private readonly history: ReplicaSummary[] = [];
  private timeout: NodeJS.Timeout | undefined;
  private pendingRecords: InputRecord[] = [];
  private rollbackRequest: string | undefined;
  /** A checkpoint the driver could not take at its epoch: taken at the next barrier instead. */
  private checkpointDue = false;
  private memoryLimitBytes: number;

  constructor(
    readonly id: string,
    private readonly driver: Driver,
    private readonly config: ComputationConfig,
    private readonly recorder: ComputationRecorder,
    private readonly sink: OutputSink,
    private readonly observers: EpochObserver[] = [],
  ) {
    this.memoryLimitBytes = config.memoryLimitBytes;
  }

  async run(): Promise<ComputationResult> {
    const done = new Promise<ComputationResult>((resolve, reject) => (this.settle = { resolve, reject }));
    const profiles = this.driver.profiles();
    const primaryProfile = profiles[0];
    if (!primaryProfile) throw new ComputationFailedError(`driver ${this.driver.name} offers no profile`);
    const slots: Slot[] = [await this.createSlot('primary', 'primary', primaryProfile)];
    for (let i = 1; i <= this.config.shadows; i++)
      slots.push(await this.createSlot(`shadow${i}`, 'shadow', this.shadowProfile(i, profiles)));
    this.slots.push(...slots);
    for (const planned of this.config.faults) if (planned.epoch === 1) await this.injectPlanned(planned);
    if (this.config.timeoutMs) {
      this.timeout = setTimeout(
        () => this.abort({ kind: 'runaway', message: `the computation exceeded its ${this.config.timeoutMs} ms time limit` }),
        this.config.timeoutMs,
      );
    }
    // Not awaited: the computation can end (time limit, a failed replica) while VMs still start.
    Promise.all(this.slots.map((slot) => slot.vm.start())).catch((error: unknown) =>
      this.abort({ kind: 'error', message: (error as Error).message }),
    );
    return done;
  }

  /** Adds a watcher of every resolved epoch (analysis, progress). */
  addObserver(observer: EpochObserver): void {
    this.observers.push(observer);
  }

  /** Who a VM id (of any generation) is. */
  describeVm(vmId: string): { id: string; role: 'primary' | 'shadow'; profile: string } | undefined {
    const replica = this.history.find((h) => h.id === vmId);
    return replica ? { id: replica.id, role: replica.role, profile: replica.profile } : undefined;
  }

  /** Stops the computation: every replica is killed, run() resolves with a `killed` end. */
  async cancel(reason: string): Promise<void> {
    await this.abort({ kind: 'killed', message: reason });
  }

  /** Names of the replicas now running (primary, shadow1…) with their VM ids. */
  replicas(): { name: string; vmId: string; role: 'primary' | 'shadow'; profile: string }[] {
    return this.slots
      .filter((slot) => !slot.gone)
      .map((slot) => ({ name: slot.name, vmId: slot.vm.id, role: slot.role, profile: slot.profile.name }));
  }

  /** Asks for a rollback of the primary at the next barrier (interventions, API). */
  requestRollback(reason: string): void {
    this.rollbackRequest = reason;
  }

  /** Injects a fault into a replica at the end of its next epoch (API, tests, demos). */
  injectFault(target: string, fault: Fault): void {
    const slot = this.slots.find((s) => s.name === target);
    if (!slot) throw new Error(`no replica named ${target}`);
    slot.pendingFaults.push(fault);
  }

  /**
   * Changes the limits of every replica at the current barrier: a memory limit decides whether a
   * guest's memory.grow succeeds, so replicas must change it at the same point to stay identical.
   */
  async adjustAll(change: ResourceLimits): Promise<ResourceLimits> {
    if (change.memoryBytes !== undefined) this.memoryLimitBytes = change.memoryBytes;
    const live = this.slots.filter((slot) => !slot.gone);
    const results = await Promise.all(live.map((slot) => slot.vm.adjust(change)));
    return results[0] ?? this.primaryLimits();
  }

  primaryLimits(): ResourceLimits {
    return this.primary().vm.limits();
  }

  // ---- VM creation ------------------------------------------------------------------------------

  private shadowProfile(index: number, profiles: readonly DiversityProfile[]): DiversityProfile {
    const names = this.config.shadowProfiles;
    if (names.length > 0) {
      const name = names[(index - 1) % names.length] as string;
      const profile = profiles.find((p) => p.name === name);
      if (!profile)
        throw new ComputationFailedError(`unknown profile ${name}; this driver offers ${profiles.map((p) => p.name).join(', ')}`);
      return profile;
    }
    return profiles[(index - 1) % profiles.length] as DiversityProfile;
  }

  private async createSlot(
    name: string,
    role: 'primary' | 'shadow',
    profile: DiversityProfile,
    restore?: { target: CheckpointInfo | undefined; joinEpoch: number; generation: number },
  ): Promise<Slot> {
    const generation = restore?.generation ?? 1;
    const vmId = `${this.id}/${name}${generation > 1 ? `#${generation}` : ''}`;
    const slot: Slot = {
      name,
      role,
      profile,
      generation,
      vm: undefined as unknown as Vm,
      joinEpoch: restore?.joinEpoch ?? 1,
      gone: false,
      pendingFaults: [],
    };
    if (restore?.target) {
      slot.restoreCheck = { epoch: restore.target.epoch, key: stateKey({ digest: restore.target.digest }) };
    }
    slot.vm = await this.driver.createVm({
      id: vmId,
      role,
      profile,
      limits: { memoryBytes: this.memoryLimitBytes },
      events: {
        onEpoch: (report) => this.onEpoch(slot, report),
        onInput: (record) => this.onInput(slot, record),
        onInputMismatch: (mismatch) => {
          slot.mismatch = mismatch;
        },
        onRestored: () => {},
        onGone: (end) => this.onGone(slot, end),
      },
      ...(restore
        ? {
            restore: {
              target: restore.target ? this.restoreTarget(restore.target) : null,
              log: this.log,
              catchUpTo: restore.joinEpoch - 1,
            },
          }
        : {}),
    });
    const info: VmInfo = { id: vmId, role, profile: profile.name, dimensions: profile.dimensions };
    this.recorder.vmCreated(info, restore ? restore.joinEpoch : 0);
    this.history.push({ ...info, generation });
    return slot;
  }

  private restoreTarget(checkpoint: CheckpointInfo): RestoreTarget {
    return {
      epoch: checkpoint.epoch,
      digest: checkpoint.digest,
      driverState: checkpoint.driverState,
      readPage: (page) => this.recorder.checkpointPage(checkpoint.id, page),
    };
  }

  // ---- events from VMs ----------------------------------------------------------------------------

  private onEpoch(slot: Slot, report: EpochReport): void {
    if (this.finished || slot.gone) return;
    if (report.epoch < slot.joinEpoch) return this.onCatchUp(slot, report);
    if (report.epoch !== this.barrierEpoch) {
      void this.abort({ kind: 'error', message: `${slot.name} reported epoch ${report.epoch} at barrier ${this.barrierEpoch}` });
      return;
    }
    slot.report = report;
    slot.reportedAt = performance.now();
    this.maybeResolve();
  }

  private onCatchUp(slot: Slot, report: EpochReport): void {
    const check = slot.restoreCheck;
    if (!check || report.epoch !== check.epoch) return;
    const reached = stateKey({ digest: report.digest }) === check.key;
    this.recorder.event({
      epoch: report.epoch,
      kind: reached ? 'restore-verified' : 'restore-mismatch',
      vmId: slot.vm.id,
      message: reached
        ? `${slot.name} reached verified checkpoint at epoch ${report.epoch} with identical state`
        : `${slot.name} re-executed to epoch ${report.epoch} but its state differs from the checkpoint`,
    });
    delete slot.restoreCheck;
  }

  private onInput(slot: Slot, record: InputRecord): void {
    if (slot.role !== 'primary' || slot.gone) return;
    this.log.append(record);
    if (this.pendingRecords.length === 0) queueMicrotask(() => this.flushRecords());
    this.pendingRecords.push(record);
    for (const shadow of this.slots) if (shadow.role === 'shadow' && !shadow.gone) shadow.vm.feed(record);
  }

  private flushRecords(): void {
    const records = this.pendingRecords;
    this.pendingRecords = [];
    if (records.length > 0) this.recorder.inputs(records);
  }

  private onGone(slot: Slot, end: VmEnd): void {
    if (slot.gone) return;
    slot.gone = true;
    slot.end = end;
    this.recorder.vmEnded(slot.vm.id, end, slot.report?.epoch ?? this.barrierEpoch);
    this.noteEnd(slot.vm.id, end);
    if (this.finished) return;
    if (slot.role === 'primary') {
      for (const shadow of this.slots) if (shadow.role === 'shadow' && !shadow.gone) shadow.vm.endOfInput();
      if (!slot.report?.end && end.kind !== 'killed') {
        void this.abort(end);
        return;
      }
    }
    this.maybeResolve();
  }

  // ---- the barrier --------------------------------------------------------------------------------

  /** Resolves the barrier once every live replica reported; one resolution at a time. */
  private maybeResolve(): void {
    if (this.resolving || this.finished) return;
    const waiting = this.slots.some((slot) => !slot.gone && !slot.report);
    if (waiting || !this.primary().report) return;
    this.resolving = true;
    this.resolveEpoch(this.barrierEpoch)
      .catch((error: unknown) => this.abort({ kind: 'error', message: (error as Error).message }))
      .finally(() => {
        this.resolving = false;
        // Replicas re-created during the resolution may have reported meanwhile.
        this.maybeResolve();
      });
  }

  private async resolveEpoch(epoch: number): Promise<void> {
    const primary = this.primary();
    const primaryReport = primary.report as EpochReport;
    const shadows = this.slots.filter((slot) => slot.role === 'shadow');
    const differences = new Map<string, StateDifference>();
    // Free-running (drift) replicas differ benignly all the time: the vote looks only at how they
    // ended, and their differences go to the analysis engine, which learns what is benign.
    const exact = this.driver.agreement === 'exact';
    const primaryKey = exact ? stateKey(primaryReport) : driftEndKey(primaryReport.end, primaryReport.end);
    const keys = new Map<string, string | undefined>([[primary.name, primaryKey]]);
    for (const shadow of shadows) {
      const key = exact
        ? shadow.report
          ? stateKey(shadow.report)
          : undefined
        : driftEndKey(shadow.report ? shadow.report.end : shadow.end, primaryReport.end);
      keys.set(shadow.name, key);
      const difference = shadow.report ? compareReports(primaryReport, shadow.report) : missingState(primaryReport, shadow.end);
      // A free-running replica that ended (or not yet) where the primary did not is no difference.
      const counted = !exact && key === primaryKey ? { ...difference, end: undefined } : difference;
      if (!isIdentical(counted)) differences.set(shadow.name, counted);
    }
    const verdict: Verdict = shadows.length === 0 ? { kind: 'agree' } : vote(primary.name, keys);
    const lagMs = this.lags(primary, shadows);
    this.recorder.epoch({
      epoch,
      verified: verdict.kind === 'agree' && shadows.length > 0,
      metrics: this.metrics(lagMs),
      divergences: verdict.kind !== 'agree' || !exact ? await this.divergences(epoch, differences, verdict.kind !== 'agree') : [],
    });
    const differencesByVm = new Map([...differences].map(([name, difference]) => [this.slot(name).vm.id, difference]));
    for (const observer of this.observers) {
      await observer.observe({ epoch, reports: this.reportsByVm(), differences: differencesByVm, verdict, lagMs });
    }
    // A divergence is acted on by the vote below; a predicted one waits for an agreeing epoch.
    if (verdict.kind !== 'agree') this.rollbackRequest = undefined;
    if (this.rollbackRequest) {
      const reason = this.rollbackRequest;
      this.rollbackRequest = undefined;
      // Free-running shadows restart beside the restored primary, from the same checkpoint.
      await this.rollback(epoch, reason, exact ? [] : shadows.filter((shadow) => !shadow.gone).map((shadow) => shadow.name));
      return;
    }
    await this.act(epoch, verdict);
  }

  private async act(epoch: number, verdict: Verdict): Promise<void> {
    switch (verdict.kind) {
      case 'agree':
        return this.commit(epoch, shadowsPresent(this.slots));
      case 'shadows-diverged': {
        this.recorder.event({
          epoch,
          kind: 'vote',
          message: `vote: ${verdict.faulty.join(', ')} diverged from the primary and the majority`,
          detail: { verdict, ...this.blame(verdict.faulty) },
        });
        for (const name of verdict.faulty) await this.refork(this.slot(name), epoch + 1, `diverged at epoch ${epoch} (outvoted)`);
        return this.commit(epoch, true);
      }
      case 'primary-diverged': {
        this.recorder.event({
          epoch,
          kind: 'vote',
          message: `vote: the primary diverged; the shadows' majority holds`,
          detail: { verdict, ...this.blame(verdict.faulty) },
        });
        return this.rollback(
          epoch,
          `the primary diverged at epoch ${epoch} (outvoted by its shadows)`,
          verdict.faulty.filter((n) => n !== 'primary'),
        );
      }
      case 'unattributed': {
        const attempts = (this.retries.get(epoch) ?? 0) + 1;
        this.retries.set(epoch, attempts);
        this.recorder.event({
          epoch,
          kind: 'vote',
          message: `no majority at epoch ${epoch}: ${verdict.differing.join(', ')} differ (attempt ${attempts})`,
          detail: { verdict },
        });
        if (attempts <= this.config.maxRetriesPerEpoch) {
          return this.rollback(
            epoch,
            `unattributed divergence at epoch ${epoch}: re-executing primary and shadows from the last verified checkpoint`,
            verdict.differing.filter((n) => n !== 'primary'),
          );
        }
        for (const name of verdict.differing.filter((n) => n !== 'primary'))
          await this.dropShadow(this.slot(name), epoch, `kept diverging at epoch ${epoch} after ${attempts - 1} re-executions`);
        return this.commit(epoch, false);
      }
    }
  }

  /** The epoch's state is accepted: deliver the primary's output, checkpoint, move on. */
  private async commit(epoch: number, verified: boolean): Promise<void> {
    const primary = this.primary();
    const report = primary.report as EpochReport;
    for (const chunk of report.outputs) if (!chunk.stream.startsWith('file:')) this.sink.write(chunk.stream, chunk.bytes);
    if (verified) this.stats.verifiedEpochs++;
    this.stats.fullCaptureBytes += this.slots.reduce(
      (sum, slot) => sum + ((slot.report?.digest.pageHashes.length ?? 0) / 16) * (slot.report?.digest.pageSize ?? 0),
      0,
    );
    if (report.end) return this.finish(report.end, epoch);
    if (this.config.maxEpochs && epoch >= this.config.maxEpochs) {
      return this.abort({
        kind: 'runaway',
        message: `the guest did not finish within ${this.config.maxEpochs} epochs (raise --max-epochs if it is expected to run longer)`,
      });
    }
    // Only the copy of the changed pages pauses the VMs; storing them happens once they run again.
    const snapshot = this.checkpointDue || epoch % this.config.checkpointEvery === 0 ? await this.takeSnapshot(primary, epoch) : undefined;
    for (const planned of this.config.faults) if (planned.epoch === epoch + 1) await this.injectPlanned(planned);
    this.barrierEpoch = epoch + 1;
    for (const slot of this.slots) {
      if (slot.gone) continue;
      delete slot.report;
      for (const fault of slot.pendingFaults.splice(0)) {
        await slot.vm.inject(fault);
        this.recorder.event({
          epoch: epoch + 1,
          kind: 'fault',
          vmId: slot.vm.id,
          message: `fault injected into ${slot.name}: ${JSON.stringify(fault)}`,
        });
      }
      if (slot.joinEpoch <= epoch) slot.vm.resume();
    }
    if (snapshot) this.storeCheckpoint(snapshot, report.digest, verified);
  }

  /** VM ids of the replicas a vote outvoted and of the majority that outvoted them (for attribution). */
  private blame(faulty: readonly string[]): { faultyVms: string[]; majorityVms: string[] } {
    const live = this.slots.filter((slot) => !slot.gone);
    return {
      faultyVms: live.filter((slot) => faulty.includes(slot.name)).map((slot) => slot.vm.id),
      majorityVms: live.filter((slot) => !faulty.includes(slot.name)).map((slot) => slot.vm.id),
    };
  }

  /** The primary's snapshot at this barrier, or undefined when its driver defers it to a later one. */
  private async takeSnapshot(primary: Slot, epoch: number): Promise<SnapshotDelta | undefined> {
    try {
      const snapshot = await primary.vm.snapshot(this.lastCheckpoint?.digest.pageHashes);
      this.checkpointDue = false;
      return snapshot;
    } catch (error) {
      if (!(error instanceof SnapshotDeferredError)) throw error;
      this.checkpointDue = true;
      this.recorder.event({ epoch, kind: 'note', message: `checkpoint deferred to the next epoch: ${error.message}` });
      return undefined;
    }
  }

  private storeCheckpoint(snapshot: SnapshotDelta, digest: StateDigest, verified: boolean): void {
    const checkpoint = this.recorder.checkpoint(snapshot, digest, verified);
    this.lastCheckpoint = checkpoint;
    if (verified) this.lastVerifiedCheckpoint = checkpoint;
    this.stats.checkpoints++;
    this.recorder.event({
      epoch: snapshot.epoch,
      kind: 'checkpoint',
      message: `checkpoint ${checkpoint.id} at epoch ${snapshot.epoch}${verified ? ' (verified by the shadows)' : ''}: ${checkpoint.storedPages} of ${checkpoint.totalPages} pages stored`,
    });
  }

  /** Restores the primary to the last verified checkpoint; it rejoins the barrier at `epoch`. */
  private async rollback(epoch: number, reason: string, alsoRefork: readonly string[]): Promise<void> {
    const primary = this.primary();
    const target = this.lastVerifiedCheckpoint;
    this.stats.rollbacks++;
    this.recorder.event({
      epoch,
      kind: 'rollback',
      vmId: primary.vm.id,
      message: `rollback of the primary to ${target ? `verified checkpoint ${target.id} (epoch ${target.epoch})` : 'its initial state'}: ${reason}`,
      detail: { checkpoint: target?.id ?? null, checkpointEpoch: target?.epoch ?? 0, reason },
    });
    await this.replace(primary, epoch);
    for (const name of alsoRefork) await this.refork(this.slot(name), epoch, `re-forked with the primary's rollback at epoch ${epoch}`);
  }

  /** Discards a shadow and forks a new one from the last verified checkpoint. */
  private async refork(slot: Slot, joinEpoch: number, reason: string): Promise<void> {
    this.stats.reforks++;
    this.recorder.event({
      epoch: joinEpoch - 1,
      kind: 'refork',
      vmId: slot.vm.id,
      message: `${slot.name} discarded and re-forked: ${reason}`,
    });
    await this.replace(slot, joinEpoch);
  }

  private async replace(slot: Slot, joinEpoch: number): Promise<void> {
    await this.retire(slot, slot.role === 'primary' ? 'rolled back' : 'discarded', joinEpoch);
    const target = this.lastVerifiedCheckpoint;
    const fresh = await this.createSlot(slot.name, slot.role, slot.profile, { target, joinEpoch, generation: slot.generation + 1 });
    // The computation may have ended (cancel, time limit) while the new VM was being created:
    // finish() killed the slots it knew, so this one must not start, or its worker would leak.
    if (this.finished) {
      await fresh.vm.kill('computation finished');
      return;
    }
    this.slots[this.slots.indexOf(slot)] = fresh;
    if (this.primary().gone && fresh.role === 'shadow') fresh.vm.endOfInput();
    await fresh.vm.start();
  }

  private async dropShadow(slot: Slot, epoch: number, reason: string): Promise<void> {
    this.recorder.event({ epoch, kind: 'drop-shadow', vmId: slot.vm.id, message: `${slot.name} dropped: ${reason}` });
    await this.retire(slot, 'dropped', epoch);
    this.slots.splice(this.slots.indexOf(slot), 1);
  }

  // ---- recording ----------------------------------------------------------------------------------

  private lags(primary: Slot, shadows: readonly Slot[]): Map<string, number> {
    const now = performance.now();
    const primaryAt = primary.reportedAt ?? now;
    const lag = new Map<string, number>([[primary.vm.id, now - primaryAt]]);
    for (const shadow of shadows) lag.set(shadow.vm.id, (shadow.reportedAt ?? now) - primaryAt);
    return lag;
  }

  private reportsByVm(): Map<string, EpochReport> {
    const reports = new Map<string, EpochReport>();
    for (const slot of this.slots) if (slot.report) reports.set(slot.vm.id, slot.report);
    return reports;
  }

  private metrics(lagMs: ReadonlyMap<string, number>): Map<string, EpochReport['metrics'] & { lagMs: number }> {
    const metrics = new Map<string, EpochReport['metrics'] & { lagMs: number }>();
    for (const slot of this.slots) {
      if (slot.report) metrics.set(slot.vm.id, { ...slot.report.metrics, lagMs: lagMs.get(slot.vm.id) ?? 0 });
    }
    return metrics;
  }

  /**
   * The differences of an epoch, with XOR deltas of the differing pages read from both sides.
   * `diverged`: the vote found a divergence (not only the benign drift of free-running replicas).
   */
  private async divergences(
    epoch: number,
    differences: ReadonlyMap<string, StateDifference>,
    diverged: boolean,
  ): Promise<DivergenceRecord[]> {
    const primary = this.primary();
    const records: DivergenceRecord[] = [];
    for (const [name, difference] of differences) {
      const slot = this.slot(name);
      if (diverged) this.stats.divergences++;
      const pages = difference.pages.slice(0, this.config.maxDeltaPages);
      let deltas: { page: number; delta: Uint8Array }[] = [];
      if (pages.length > 0 && !slot.gone && !primary.gone) {
        const [mine, theirs] = await Promise.all([primary.vm.readPages(pages), slot.vm.readPages(pages)]);
        deltas = pages.map((page, i) => ({ page, delta: encodePageDelta(mine[i] as Uint8Array, theirs[i] as Uint8Array) }));
      }
      records.push({
        epoch,
        vmId: slot.vm.id,
        difference,
        deltas,
        ...(slot.mismatch ? { inputMismatch: { expected: slot.mismatch.expected, got: slot.mismatch.got } } : {}),
      });
    }
    return records;
  }

  // ---- ending -------------------------------------------------------------------------------------

  private async injectPlanned(planned: ComputationConfig['faults'][number]): Promise<void> {
    const slot = this.slots.find((s) => s.name === planned.target);
    if (!slot)
      throw new ComputationFailedError(`cannot inject into ${planned.target}: the computation has ${this.config.shadows} shadow(s)`);
    const memoryBytes = slot.report ? (slot.report.digest.pageHashes.length / 16) * slot.report.digest.pageSize : 2 ** 20;
    const fault = plannedFaultFor(planned, memoryBytes);
    await slot.vm.inject(fault);
    this.recorder.event({
      epoch: planned.epoch,
      kind: 'fault',
      vmId: slot.vm.id,
      message: `fault planned for ${slot.name} at the end of epoch ${planned.epoch}: ${JSON.stringify(fault)}`,
    });
  }

  /** Stops a replica the manager no longer wants; its end is recorded here, not by onGone. */
  private async retire(slot: Slot, why: string, epoch: number): Promise<void> {
    slot.gone = true;
    const end: VmEnd = { kind: 'killed', message: why };
    this.recorder.vmEnded(slot.vm.id, end, epoch);
    this.noteEnd(slot.vm.id, end);
    await slot.vm.kill(why);
  }

  private noteEnd(vmId: string, end: VmEnd): void {
    const summary = this.history.find((h) => h.id === vmId);
    if (summary && summary.end === undefined) Object.assign(summary, { end: describeEnd(end) });
  }

  private async finish(end: VmEnd, epoch: number): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    // A replica's own end (in its last report) says more than the kill that tidies it up.
    for (const slot of this.slots) if (slot.report?.end) this.noteEnd(slot.vm.id, slot.report.end);
    clearTimeout(this.timeout);
    this.flushRecords();
    await Promise.all(this.slots.map((slot) => slot.vm.kill('computation finished')));
    this.settle.resolve({
      id: this.id,
      end,
      epochs: epoch,
      ...this.stats,
      wallMs: performance.now() - this.startedAt,
      replicas: this.history,
      loggedBytes: this.recorder.loggedBytes(),
      inputRecords: this.log.length,
    });
  }

  private async abort(end: VmEnd): Promise<void> {
    if (this.finished) return;
    this.recorder.event({ epoch: this.barrierEpoch, kind: 'note', message: `computation ended: ${describeEnd(end)}` });
    await this.finish(end, this.barrierEpoch);
  }

  private primary(): Slot {
    return this.slots[0] as Slot;
  }

  private slot(name: string): Slot {
    const slot = this.slots.find((s) => s.name === name);
    if (!slot) throw new Error(`no replica named ${name}`);
    return slot;
  }
}

function shadowsPresent(slots: readonly Slot[]): boolean {
  return slots.some((slot) => slot.role === 'shadow');
}

/**
 * How a free-running replica's end votes. Free-running replicas get to the end at their own pace:
 * having exited normally, or not yet, agrees with the primary; a crash does not, nor another exit
 * code once both have exited.
 */
function driftEndKey(end: VmEnd | undefined, primaryEnd: VmEnd | undefined): string {
  if (end !== undefined && end.kind !== 'exit') return describeEnd(end);
  if (end?.kind === 'exit' && primaryEnd?.kind === 'exit' && end.code !== primaryEnd.code) return describeEnd(end);
  return 'normal';
}
