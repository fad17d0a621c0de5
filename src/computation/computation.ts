// One computation: a primary and its shadows, met at every epoch barrier. The loop of the mission
// is resolveEpoch: sync → diff → vote → log → analyze → intervene → commit → checkpoint. What it
// records is what happened: the differences pairwise, the verdict (the blamed replica, or
// undecided until a retry decides), one action row per action with its cause and actor.

import type { VerdictId } from '../difflog/types.js';
import { SnapshotDeferredError } from '../drivers/snapshot-deferred.js';
import type {
  DiversityProfile,
  Driver,
  EpochReport,
  Fault,
  InputRecord,
  ResourceLimits,
  RestoreTarget,
  Role,
  SnapshotDelta,
  StateDigest,
  VmEnd,
} from '../drivers/types.js';
import { describeEnd } from '../drivers/vm-end.js';
import { ShadowvmError } from '../errors.js';
import type { ActionRecord, Intervener } from '../interventions/index.js';
import { differingBytes, encodePageDelta } from '../pages/xor-delta.js';
import type { Decision, PlannedAction, VmIdentity } from '../policy/index.js';
import { InputLog } from '../replication/input-log.js';
import type { ActionActor, ActionCause, StoredPrediction } from '../store/types.js';
import { type AgreementStrategy, agreementFor, type Standing } from '../sync/agreement.js';
import type { StateDifference } from '../sync/compare.js';
import { type Verdict, vote } from '../sync/vote.js';
import { AlertBook } from './alerts.js';
import { type ComputationConfig, plannedFaultFor } from './config.js';
import type { CheckpointInfo, ComputationRecorder, DivergenceRecord, EpochObserver, OutputSink, VerdictEntry, VmInfo } from './ports.js';
import type { EpochAnalysis, Observed, Predictor } from './predictor.js';
import { Replica, ReplicaRequestError } from './replica.js';

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

/** Thrown out of run() when the computation cannot continue (not a guest's own failure). */
export class ComputationFailedError extends ShadowvmError {
  constructor(message: string) {
    super('computation-failed', message);
  }
}

/** What the loop works with besides its driver: prediction and intervention are optional. */
export interface ComputationParts {
  readonly recorder: ComputationRecorder;
  readonly sink: OutputSink;
  readonly predictor?: Predictor;
  readonly intervener?: Intervener;
  readonly observers?: readonly EpochObserver[];
  /** Every epoch's scores and predictions (live displays, metrics). */
  readonly onAnalysis?: (analysis: EpochAnalysis) => void;
}

/** A recovery asked for from outside the loop (API, CLI), carried out at the next barrier. */
interface Request {
  readonly reason: string;
  readonly actor: ActionActor;
}

/** A replica to recover, why, and on whose decision. */
interface Recovery {
  readonly replica: string;
  readonly actor: ActionActor;
  readonly cause: ActionCause;
  readonly reason: string;
}

/** Longest a request to a VM (snapshot, page read, limits) may take before it counts as lost. */
const REQUEST_TIMEOUT_MS = 10 * 60_000;

export class Computation {
  private readonly replicas: Replica[] = [];
  private readonly log = new InputLog();
  private readonly agreement: AgreementStrategy;
  private readonly alerts: AlertBook | undefined;
  private readonly observers: EpochObserver[];
  private barrierEpoch = 1;
  private lastCheckpoint: CheckpointInfo | undefined;
  private lastVerifiedCheckpoint: CheckpointInfo | undefined;
  /** Primaries lost at each barrier epoch (host failures, not divergences). */
  private readonly losses = new Map<number, number>();
  /** Resolutions of each barrier epoch so far (a recovery makes the next attempt). */
  private readonly attempts = new Map<number, number>();
  /** Undecided verdicts of an epoch, waiting for a retry to decide them. */
  private readonly undecided = new Map<number, VerdictId[]>();
  private resolving = false;
  private finished = false;
  private settle!: { resolve: (result: ComputationResult) => void; reject: (error: Error) => void };
  private readonly startedAt = performance.now();
  private readonly stats = { verifiedEpochs: 0, divergences: 0, rollbacks: 0, reforks: 0, checkpoints: 0, fullCaptureBytes: 0 };
  private readonly history: ReplicaSummary[] = [];
  private timeout: NodeJS.Timeout | undefined;
  private pendingRecords: InputRecord[] = [];
  private readonly requests: Request[] = [];
  /** A checkpoint the driver could not take at its epoch: taken at the next barrier instead. */
  private checkpointDue = false;
  private memoryLimitBytes: number;

  constructor(
    readonly id: string,
    private readonly driver: Driver,
    private readonly config: ComputationConfig,
    private readonly parts: ComputationParts,
  ) {
    this.memoryLimitBytes = config.memoryLimitBytes;
    this.agreement = agreementFor(driver.agreement);
    this.alerts = parts.intervener ? new AlertBook(parts.recorder, parts.intervener) : undefined;
    this.observers = [...(parts.observers ?? [])];
  }

  private get recorder(): ComputationRecorder {
    return this.parts.recorder;
  }

  async run(): Promise<ComputationResult> {
    const done = new Promise<ComputationResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const profiles = this.driver.profiles();
    const primaryProfile = profiles[0];
    if (!primaryProfile) throw new ComputationFailedError(`driver ${this.driver.name} offers no profile`);
    this.replicas.push(await this.createReplica('primary', 'primary', primaryProfile));
    for (let i = 1; i <= this.config.shadows; i++)
      this.replicas.push(await this.createReplica(`shadow${i}`, 'shadow', this.shadowProfile(i, profiles)));
    for (const planned of this.config.faults) if (planned.epoch === 1) await this.injectPlanned(planned);
    if (this.config.timeoutMs) {
      this.timeout = setTimeout(
        () => this.abort({ kind: 'runaway', message: `the computation exceeded its ${this.config.timeoutMs} ms time limit` }),
        this.config.timeoutMs,
      );
    }
    // Not awaited: the computation can end (time limit, a failed replica) while VMs still start.
    Promise.all(this.replicas.map((replica) => replica.vm.start())).catch((error: unknown) =>
      this.abort({ kind: 'error', message: (error as Error).message }),
    );
    return done;
  }

  addObserver(observer: EpochObserver): void {
    this.observers.push(observer);
  }

  /** Who a VM id (of any generation) is. */
  describeVm(vmId: string): VmIdentity | undefined {
    const replica = this.history.find((h) => h.id === vmId);
    return replica ? { id: replica.id, role: replica.role, profile: replica.profile } : undefined;
  }

  /** Stops the computation: every replica is killed, run() resolves with a `killed` end. */
  async cancel(reason: string): Promise<void> {
    await this.abort({ kind: 'killed', message: reason });
  }

  /** The replicas now running (primary, shadow1…) with their VM ids. */
  live(): { name: string; vmId: string; role: Role; profile: string }[] {
    return this.replicas
      .filter((replica) => !replica.ended)
      .map((replica) => ({ name: replica.name, vmId: replica.vmId, role: replica.role, profile: replica.profile.name }));
  }

  /** Asks for a rollback of the primary at the next barrier (API, CLI). */
  requestRollback(reason: string, actor: ActionActor): void {
    this.requests.push({ reason, actor });
  }

  /** Injects a fault into a replica at the end of its next epoch (API, tests, demos). */
  injectFault(target: string, fault: Fault): void {
    this.replica(target).pendingFaults.push(fault);
  }

  primaryLimits(): ResourceLimits {
    return this.primary().vm.limits();
  }

  /**
   * Changes the limits of every replica at the current barrier: a memory limit decides whether a
   * guest's memory.grow succeeds, so replicas must change it at the same point to stay identical.
   */
  async adjustAll(change: ResourceLimits): Promise<ResourceLimits> {
    if (change.memoryBytes !== undefined) this.memoryLimitBytes = change.memoryBytes;
    const live = this.replicas.filter((replica) => !replica.ended);
    const results = await Promise.all(
      live.map((replica) => replica.call('change its limits', REQUEST_TIMEOUT_MS, (vm) => vm.adjust(change))),
    );
    return results[0] ?? this.primaryLimits();
  }

  get currentMemoryLimit(): number {
    return this.memoryLimitBytes;
  }

  // ---- replicas ---------------------------------------------------------------------------------

  private shadowProfile(index: number, profiles: readonly DiversityProfile[]): DiversityProfile {
    const names = this.config.shadowProfiles;
    if (names.length === 0) return profiles[(index - 1) % profiles.length] as DiversityProfile;
    const name = names[(index - 1) % names.length] as string;
    const profile = profiles.find((p) => p.name === name);
    if (!profile) throw new ComputationFailedError(`unknown profile ${name}; this driver offers ${profiles.map((p) => p.name).join(', ')}`);
    return profile;
  }

  private async createReplica(
    name: string,
    role: Role,
    profile: DiversityProfile,
    restore?: { target: CheckpointInfo | undefined; joinEpoch: number; generation: number },
  ): Promise<Replica> {
    const generation = restore?.generation ?? 1;
    const vmId = `${this.id}/${name}${generation > 1 ? `#${generation}` : ''}`;
    let replica: Replica | undefined;
    const vm = await this.driver.createVm({
      id: vmId,
      role,
      profile,
      limits: { memoryBytes: this.memoryLimitBytes },
      events: {
        onEpoch: (report) => replica && this.onEpoch(replica, report),
        onInput: (record) => replica && this.onInput(replica, record),
        onInputMismatch: (mismatch) => {
          if (replica) replica.mismatch = mismatch;
        },
        onRestored: (epoch) => replica && this.onRestored(replica, epoch),
        onGone: (end) => replica && this.onGone(replica, end),
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
    replica = new Replica(name, role, profile, generation, vm, restore?.joinEpoch ?? 1);
    if (restore?.target) replica.restoring = restore.target.epoch;
    const info: VmInfo = { id: vmId, role, profile: profile.name, dimensions: profile.dimensions };
    this.recorder.vmCreated(info, restore ? restore.joinEpoch : 0);
    this.history.push({ ...info, generation });
    return replica;
  }

  private restoreTarget(checkpoint: CheckpointInfo): RestoreTarget {
    return {
      epoch: checkpoint.epoch,
      digest: checkpoint.digest,
      driverState: checkpoint.driverState,
      readPage: (page) => this.recorder.checkpointPage(checkpoint.id, page),
    };
  }

  // ---- events from VMs --------------------------------------------------------------------------

  private onEpoch(replica: Replica, report: EpochReport): void {
    if (this.finished || replica.ended) return;
    if (report.epoch < replica.joinEpoch) return;
    if (report.epoch !== this.barrierEpoch) {
      void this.abort({ kind: 'error', message: `${replica.name} reported epoch ${report.epoch} at barrier ${this.barrierEpoch}` });
      return;
    }
    replica.report = report;
    replica.reportedAt = performance.now();
    this.maybeResolve();
  }

  private onRestored(replica: Replica, epoch: number): void {
    if (replica.restoring !== epoch) return;
    replica.restoring = undefined;
    this.recorder.event({
      epoch,
      kind: 'restore-verified',
      vmId: replica.vmId,
      message: `${replica.name} reached the checkpoint of epoch ${epoch} with identical state`,
    });
  }

  private onInput(replica: Replica, record: InputRecord): void {
    if (replica.role !== 'primary' || replica.ended) return;
    this.log.append(record);
    if (this.pendingRecords.length === 0) queueMicrotask(() => this.flushRecords());
    this.pendingRecords.push(record);
    for (const shadow of this.shadows()) if (!shadow.ended) shadow.vm.feed(record);
  }

  private flushRecords(): void {
    const records = this.pendingRecords;
    this.pendingRecords = [];
    if (records.length > 0) this.recorder.inputs(records);
  }

  private onGone(replica: Replica, end: VmEnd): void {
    if (replica.ended) return;
    replica.markGone(end);
    this.recorder.vmEnded(replica.vmId, end, replica.report?.epoch ?? this.barrierEpoch);
    this.noteEnd(replica.vmId, end);
    if (this.finished) return;
    // A primary that exited recorded every input there is: a shadow asking for more has diverged.
    if (replica.role === 'primary' && replica.report?.end) for (const shadow of this.shadows()) if (!shadow.ended) shadow.vm.endOfInput();
    this.maybeResolve();
  }

  // ---- the barrier ------------------------------------------------------------------------------

  /**
   * Resolves the barrier once every live replica reported; one resolution at a time. A primary
   * lost mid-epoch (its host failed: it ended without the report of its end) is recovered first:
   * its shadows hold the computation's state.
   */
  private maybeResolve(): void {
    if (this.resolving || this.finished) return;
    const primary = this.primary();
    const lost = isLost(primary);
    if (!lost && (!primary.report || !this.replicas.every((replica) => replica.settled()))) return;
    this.resolving = true;
    (lost ? this.recoverLost(primary) : this.resolveEpoch(this.barrierEpoch))
      .catch((error: unknown) => {
        // A primary lost during the resolution is recovered by the next one, not an abort.
        if (!isLost(this.primary())) return this.abort({ kind: 'error', message: (error as Error).message });
      })
      .finally(() => {
        this.resolving = false;
        // Replicas re-created during the resolution may have reported meanwhile.
        this.maybeResolve();
      });
  }

  /** Rolls a lost primary back; one that keeps getting lost at the same barrier ends the run. */
  private async recoverLost(primary: Replica): Promise<void> {
    const epoch = this.barrierEpoch;
    const losses = (this.losses.get(epoch) ?? 0) + 1;
    this.losses.set(epoch, losses);
    const why = describeEnd(primary.end);
    if (losses > this.config.maxRetriesPerEpoch + 1) {
      return this.abort({ kind: 'error', message: `the primary was lost ${losses} times at epoch ${epoch} (last: ${why})` });
    }
    const reason = `${primary.vmId} was lost during epoch ${epoch}: ${why}`;
    await this.recover(epoch, [{ replica: 'primary', actor: 'manager', cause: { kind: 'request', reason }, reason }]);
  }

  private async resolveEpoch(epoch: number): Promise<void> {
    const primary = this.primary();
    // A shadow whose host failed gave no state to vote with: it is replaced, not outvoted.
    const lost = this.shadows().filter(isLost);
    const shadows = this.shadows().filter((shadow) => !lost.includes(shadow));
    const attempt = (this.attempts.get(epoch) ?? 0) + 1;
    this.attempts.set(epoch, attempt);
    // sync → diff → vote
    const comparison = this.agreement.compare(standing(primary) as Standing & { report: EpochReport }, shadows.map(standing));
    const verdict: Verdict = shadows.length === 0 ? { kind: 'agree' } : vote(primary.name, comparison.keys);
    const entry = this.verdictEntry(epoch, attempt, verdict);
    // log
    const divergences = await this.divergences(epoch, attempt, comparison.differences, verdict.kind !== 'agree');
    const lagMs = this.lags(primary, shadows);
    const verdictId = this.recorder.epoch({
      epoch,
      attempt,
      verified: verdict.kind === 'agree' && shadows.length > 0,
      metrics: this.metrics(lagMs),
      divergences: verdict.kind !== 'agree' || this.agreement.kind === 'drift' ? divergences : [],
      ...(entry ? { verdict: entry } : {}),
    });
    this.settleUndecided(epoch, attempt, entry);
    if (entry?.kind === 'undecided' && verdictId !== null) this.undecided.set(epoch, [...(this.undecided.get(epoch) ?? []), verdictId]);
    const differencesByVm = new Map([...comparison.differences].map(([name, difference]) => [this.replica(name).vmId, difference]));
    for (const observer of this.observers) {
      observer.observe({
        epoch,
        attempt,
        reports: this.reportsByVm(),
        differences: differencesByVm,
        verdict,
        blamed: entry?.blamed ?? [],
        lagMs,
      });
    }
    // analyze
    const analysis = this.analyze(epoch, entry, divergences, lagMs);
    // intervene
    const recoveries = [...this.verdictRecoveries(entry, verdict), ...lost.map(lostRecovery)];
    if ((await this.intervene(epoch, analysis, recoveries)) === 'rerun') return;
    // commit → checkpoint
    await this.commit(epoch, verdict.kind === 'agree' ? shadows.length > 0 : verdict.kind === 'shadows-diverged');
  }

  /** The verdict with VM ids, for the log and for blame (none when the replicas agree). */
  private verdictEntry(epoch: number, attempt: number, verdict: Verdict): VerdictEntry | undefined {
    const ids = (names: readonly string[]) => names.map((name) => this.replica(name).vmId);
    const live = this.replicas.filter((replica) => !replica.ended || replica.report).map((replica) => replica.name);
    switch (verdict.kind) {
      case 'agree':
        return undefined;
      case 'shadows-diverged':
      case 'primary-diverged': {
        const majority = live.filter((name) => !verdict.faulty.includes(name));
        return { epoch, attempt, kind: verdict.kind, blamed: ids(verdict.faulty), majority: ids(majority), differing: [] };
      }
      case 'unattributed':
        // Without a majority the primary is among those that differ: they are all re-executed.
        return { epoch, attempt, kind: 'undecided', blamed: [], majority: [], differing: ids(undecided(verdict.differing)) };
    }
  }

  /** An earlier attempt of this epoch could not decide: this one says how it ended. */
  private settleUndecided(epoch: number, attempt: number, entry: VerdictEntry | undefined): void {
    const open = this.undecided.get(epoch);
    if (!open || entry?.kind === 'undecided') return;
    this.undecided.delete(epoch);
    const resolution = entry
      ? { attempt, kind: 'blamed' as const, blamed: entry.blamed }
      : { attempt, kind: 'transient' as const, blamed: [] as string[] };
    for (const id of open) this.recorder.resolveVerdict(id, resolution);
  }

  private analyze(
    epoch: number,
    entry: VerdictEntry | undefined,
    divergences: readonly DivergenceRecord[],
    lagMs: ReadonlyMap<string, number>,
  ): EpochAnalysis | undefined {
    const predictor = this.parts.predictor;
    if (!predictor) return undefined;
    const observed = (replica: Replica): Observed | undefined =>
      replica.report
        ? {
            id: replica.vmId,
            role: replica.role,
            profile: replica.profile.name,
            report: replica.report,
            lagMs: lagMs.get(replica.vmId) ?? 0,
          }
        : undefined;
    const primary = observed(this.primary()) as Observed;
    const shadows = this.shadows().flatMap((replica) => observed(replica) ?? []);
    const analysis = predictor.analyze({
      epoch,
      primary,
      shadows,
      pairs: shadows.map((shadow) => {
        const record = divergences.find((d) => d.vmId === shadow.id);
        return { shadow: shadow.id, difference: record?.difference, diffBytes: record?.diffBytes ?? 0 };
      }),
      blamed: this.agreement.kind === 'drift' ? null : entry === undefined ? [] : entry.kind === 'undecided' ? 'undecided' : entry.blamed,
    });
    this.parts.onAnalysis?.(analysis);
    return analysis;
  }

  // ---- interventions ----------------------------------------------------------------------------

  /** What the vote asks for: the replicas it blamed are recovered, or all that differed are retried. */
  private verdictRecoveries(entry: VerdictEntry | undefined, verdict: Verdict): Recovery[] {
    if (!entry || verdict.kind === 'agree') return [];
    const cause: ActionCause = { kind: 'verdict', epoch: entry.epoch, attempt: entry.attempt, verdict: entry.kind, blamed: entry.blamed };
    const names = verdict.kind === 'unattributed' ? undecided(verdict.differing) : verdict.faulty;
    const reason =
      entry.kind === 'primary-diverged'
        ? `the primary diverged at epoch ${entry.epoch} (outvoted by its shadows)`
        : entry.kind === 'shadows-diverged'
          ? `diverged at epoch ${entry.epoch} (outvoted)`
          : `no majority at epoch ${entry.epoch}: ${names.join(', ')} differ (attempt ${entry.attempt})`;
    return names.map((replica) => ({ replica, actor: 'vote', cause, reason }));
  }

  /**
   * Carries out the epoch's actions: the policy's (alerts, limits, the recoveries it predicts),
   * then the recoveries that the vote, a lost replica or a request asks for. A policy recovery of a
   * replica that is recovered anyway is the same action: it is carried out once. Returns whether
   * the barrier is committed (the primary kept its state) or re-run (the primary was restored).
   */
  private async intervene(
    epoch: number,
    analysis: EpochAnalysis | undefined,
    recoveries: readonly Recovery[],
  ): Promise<'commit' | 'rerun'> {
    const recovered = new Set(recoveries.map((r) => this.replica(r.replica).vmId));
    let rerun = false;
    const intervener = this.parts.intervener;
    if (intervener && analysis) {
      const ending = this.primary().report?.end !== undefined;
      const decisions = analysis.decisions.map(
        ({ decision, prediction }): { decision: Decision; prediction: StoredPrediction | undefined } => ({
          decision: {
            ...decision,
            // Limits of a computation that ends at this barrier change nothing any more.
            actions: decision.actions.filter((a) => !(a.kind === 'rollback' && recovered.has(decision.vm.id)) && !(ending && isRaise(a))),
          },
          prediction,
        }),
      );
      const predictions = new Map(decisions.map(({ decision, prediction }) => [decision, prediction]));
      const causes = new Map(
        decisions.map(({ decision, prediction }) => [decision.vm.id, predictionCause(decision, prediction, 'rollback')]),
      );
      this.policyRecovery = async (vm, reason) => {
        const replica = this.replicas.find((r) => r.vmId === vm.id);
        if (!replica) return { ok: false, detail: `${vm.id} is no longer a replica of this computation` };
        // A free-running pair of one shadow cannot say which side drifted: both are recovered
        // (the primary rolls back and its shadow restarts beside it).
        const single = this.agreement.kind === 'drift' && replica.role === 'shadow' && this.shadows().filter((s) => !s.ended).length === 1;
        const name = single ? 'primary' : replica.name;
        const cause = causes.get(vm.id) ?? { kind: 'request', reason };
        const outcome = await this.recover(epoch, [{ replica: name, actor: 'policy', cause, reason }]);
        rerun ||= outcome === 'rerun';
        return {
          ok: true,
          detail: outcome === 'rerun' ? 'the primary rolled back to its last verified checkpoint' : `${replica.name} was re-forked`,
        };
      };
      try {
        for (const record of await intervener.intervene(decisions.map((d) => d.decision))) {
          this.recordPolicyAction(record, predictions.get(record.decision));
        }
      } finally {
        this.policyRecovery = undefined;
      }
    }
    const requested = this.requests.splice(0).map(
      (request): Recovery => ({
        replica: 'primary',
        actor: request.actor,
        cause: { kind: 'request', reason: request.reason },
        reason: request.reason,
      }),
    );
    const all = [...recoveries, ...requested];
    if (rerun) {
      for (const r of all)
        this.act(epoch, 'rollback', this.primary().vmId, r, 'covered: the policy rolled the primary back at this barrier');
      return 'rerun';
    }
    if (all.length === 0) return 'commit';
    return this.recover(epoch, all);
  }

  /** Set while the policy's decisions are carried out: how the intervener recovers a replica. */
  private policyRecovery: ((vm: VmIdentity, reason: string) => Promise<{ ok: boolean; detail: string }>) | undefined;

  /** The intervener's view of the loop: the primary's limits, limits for all, recovery of a replica. */
  readonly target = {
    limits: (): ResourceLimits => this.primaryLimits(),
    adjustResources: async (change: ResourceLimits) => {
      const limits = await this.adjustAll(change);
      return { ok: true, detail: `limits now ${JSON.stringify(limits)}` };
    },
    recover: async (vm: VmIdentity, reason: string) =>
      this.policyRecovery ? this.policyRecovery(vm, reason) : { ok: false, detail: 'recoveries happen only at an epoch barrier' },
  };

  private recordPolicyAction(record: ActionRecord, prediction: StoredPrediction | undefined): void {
    const { decision, action } = record;
    // An applied recovery wrote the rows of what it did (which replicas, from which checkpoint).
    if (action.kind === 'rollback' && record.outcome.status === 'applied') return;
    const resolution = action.kind === 'alert' && action.status === 'resolved';
    const cause: ActionCause =
      (resolution ? this.alerts?.causeOf(decision.vm.id, action.alert) : undefined) ?? predictionCause(decision, prediction, action.kind);
    this.recorder.action({
      epoch: decision.epoch,
      kind: action.kind,
      vmId: decision.vm.id,
      actor: 'policy',
      cause,
      reason: decision.reason,
      status: record.outcome.status,
      outcome: record.outcome.detail,
      dryRun: decision.dryRun,
    });
    if (action.kind !== 'alert' || record.outcome.status !== 'queued') return;
    if (action.status === 'firing') this.alerts?.fired(decision.vm, action.alert, action.severity, decision.epoch, decision.reason, cause);
    else this.alerts?.resolved(decision.vm.id, action.alert, decision.epoch, decision.reason);
  }

  /**
   * Recovers replicas: the primary rolls back to the last verified checkpoint (shadows that must
   * follow it are re-forked from the same one); a shadow alone is re-forked and joins at the next
   * barrier; undecided replicas are re-executed, and the shadows among them dropped once they kept
   * differing past the retry limit. One action row for each replica acted on.
   */
  private async recover(epoch: number, recoveries: readonly Recovery[]): Promise<'commit' | 'rerun'> {
    const write = (kind: string, vmId: string, recovery: Recovery, outcome: string) => this.act(epoch, kind, vmId, recovery, outcome);
    const undecided = recoveries.filter((r) => r.cause.kind === 'verdict' && r.cause.verdict === 'undecided');
    const attempt = this.attempts.get(epoch) ?? 1;
    if (undecided.length > 0 && attempt > this.config.maxRetriesPerEpoch) {
      for (const r of undecided.filter((r) => r.replica !== 'primary')) {
        const replica = this.replica(r.replica);
        await this.dropShadow(replica, epoch);
        write(
          'drop-shadow',
          replica.vmId,
          r,
          `${replica.name} dropped: it kept differing at epoch ${epoch} after ${attempt - 1} re-executions`,
        );
      }
      for (const id of this.undecided.get(epoch) ?? []) {
        this.recorder.resolveVerdict(id, { attempt, kind: 'dropped', blamed: undecided.map((r) => this.replica(r.replica).vmId) });
      }
      this.undecided.delete(epoch);
      return 'commit';
    }
    const primary = recoveries.find((r) => r.replica === 'primary');
    if (!primary) {
      for (const name of new Set(recoveries.map((r) => r.replica))) {
        const r = recoveries.find((x) => x.replica === name) as Recovery;
        const replica = this.replica(name);
        const fresh = await this.refork(replica, epoch + 1);
        write('refork', replica.vmId, r, `${fresh ?? replica.name} forked from the last verified checkpoint, joins at epoch ${epoch + 1}`);
      }
      return 'commit';
    }
    const old = this.primary().vmId;
    const target = this.lastVerifiedCheckpoint;
    const fresh = await this.rollback(epoch);
    const to = target ? `verified checkpoint ${target.id} (epoch ${target.epoch})` : 'its initial state';
    write(
      undecided.length > 0 ? 'retry' : 'rollback',
      old,
      primary,
      `${fresh ?? 'the primary'} restores ${to} and rejoins at epoch ${epoch}`,
    );
    for (const r of recoveries.filter((x) => x !== primary && x.replica === 'primary')) {
      write('rollback', old, r, `covered by the rollback at this barrier (${primary.actor}: ${primary.reason})`);
    }
    // Free-running shadows restart beside the restored primary, from the same checkpoint.
    const following =
      this.agreement.kind === 'drift'
        ? this.shadows()
            .filter((s) => !s.ended)
            .map((s) => s.name)
        : [];
    for (const name of new Set([...recoveries.filter((r) => r.replica !== 'primary').map((r) => r.replica), ...following])) {
      const r = recoveries.find((x) => x.replica === name) ?? primary;
      const replica = this.replica(name);
      const forked = await this.refork(replica, epoch);
      write('refork', replica.vmId, r, `${forked ?? replica.name} forked from ${to} beside the restored primary, joins at epoch ${epoch}`);
    }
    return 'rerun';
  }

  /** Restores the primary to the last verified checkpoint; it rejoins the barrier at `epoch`. */
  private async rollback(epoch: number): Promise<string | undefined> {
    this.stats.rollbacks++;
    return (await this.replace(this.primary(), epoch))?.vmId;
  }

  /** Discards a shadow and forks a new one from the last verified checkpoint. */
  private async refork(replica: Replica, joinEpoch: number): Promise<string | undefined> {
    this.stats.reforks++;
    return (await this.replace(replica, joinEpoch))?.vmId;
  }

  private async dropShadow(replica: Replica, epoch: number): Promise<void> {
    await this.retire(replica, 'dropped', epoch);
    this.replicas.splice(this.replicas.indexOf(replica), 1);
  }

  /** One action row, written once the action is done. */
  private act(epoch: number, kind: string, vmId: string, recovery: Recovery, outcome: string): void {
    this.recorder.action({
      epoch,
      kind,
      vmId,
      actor: recovery.actor,
      cause: recovery.cause,
      reason: recovery.reason,
      status: 'applied',
      outcome,
      dryRun: false,
    });
  }

  private async replace(replica: Replica, joinEpoch: number): Promise<Replica | undefined> {
    await this.retire(replica, replica.role === 'primary' ? 'rolled back' : 'discarded', joinEpoch);
    this.alerts?.resolveAll(
      this.barrierEpoch,
      `${replica.name} was ${replica.role === 'primary' ? 'rolled back' : 're-forked'}: the alerts of ${replica.vmId} end with it`,
      replica.vmId,
    );
    const target = this.lastVerifiedCheckpoint;
    const fresh = await this.createReplica(replica.name, replica.role, replica.profile, {
      target,
      joinEpoch,
      generation: replica.generation + 1,
    });
    // The computation may have ended (cancel, time limit) while the new VM was being created:
    // finish() killed the replicas it knew, so this one must not start, or its worker would leak.
    if (this.finished) {
      await fresh.vm.kill('computation finished');
      return undefined;
    }
    this.replicas[this.replicas.indexOf(replica)] = fresh;
    if (this.primary().ended && fresh.role === 'shadow') fresh.vm.endOfInput();
    await fresh.vm.start();
    return fresh;
  }

  // ---- commit -----------------------------------------------------------------------------------

  /** The epoch's state is accepted: deliver the primary's output, checkpoint, move on. */
  private async commit(epoch: number, verified: boolean): Promise<void> {
    const primary = this.primary();
    const report = primary.report as EpochReport;
    for (const chunk of report.outputs) if (!chunk.stream.startsWith('file:')) this.parts.sink.write(chunk.stream, chunk.bytes);
    if (verified) this.stats.verifiedEpochs++;
    this.stats.fullCaptureBytes += this.replicas.reduce(
      (sum, replica) => sum + ((replica.report?.digest.pageHashes.length ?? 0) / 16) * (replica.report?.digest.pageSize ?? 0),
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
    for (const replica of this.replicas) {
      if (replica.ended) continue;
      replica.report = undefined;
      for (const fault of replica.pendingFaults.splice(0)) {
        await replica.call('take a fault', REQUEST_TIMEOUT_MS, (vm) => vm.inject(fault));
        this.recorder.event({
          epoch: epoch + 1,
          kind: 'fault',
          vmId: replica.vmId,
          message: `fault injected into ${replica.name}: ${JSON.stringify(fault)}`,
        });
      }
      if (replica.joinEpoch <= epoch) replica.vm.resume();
    }
    if (snapshot) this.storeCheckpoint(snapshot, report.digest, verified);
  }

  /** The primary's snapshot at this barrier, or undefined when its driver defers it to a later one. */
  private async takeSnapshot(primary: Replica, epoch: number): Promise<SnapshotDelta | undefined> {
    if (!this.driver.capabilities.has('checkpoint')) return undefined;
    try {
      const snapshot = await primary.call('take a snapshot', REQUEST_TIMEOUT_MS, (vm) =>
        vm.snapshot(this.lastCheckpoint?.digest.pageHashes),
      );
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

  // ---- recording --------------------------------------------------------------------------------

  private lags(primary: Replica, shadows: readonly Replica[]): Map<string, number> {
    const now = performance.now();
    const primaryAt = primary.reportedAt ?? now;
    const lag = new Map<string, number>([[primary.vmId, 0]]);
    for (const shadow of shadows) if (shadow.report) lag.set(shadow.vmId, Math.max(0, (shadow.reportedAt ?? now) - primaryAt));
    return lag;
  }

  private reportsByVm(): Map<string, EpochReport> {
    const reports = new Map<string, EpochReport>();
    for (const replica of this.replicas) if (replica.report) reports.set(replica.vmId, replica.report);
    return reports;
  }

  private metrics(lagMs: ReadonlyMap<string, number>): Map<string, EpochReport['metrics'] & { lagMs: number }> {
    const metrics = new Map<string, EpochReport['metrics'] & { lagMs: number }>();
    for (const replica of this.replicas) {
      if (replica.report) metrics.set(replica.vmId, { ...replica.report.metrics, lagMs: lagMs.get(replica.vmId) ?? 0 });
    }
    return metrics;
  }

  /**
   * The differences of an epoch, pairwise with the primary, with XOR deltas of the differing pages
   * read from both sides. `diverged`: the vote found a divergence (not the benign drift of
   * free-running replicas).
   */
  private async divergences(
    epoch: number,
    attempt: number,
    differences: ReadonlyMap<string, StateDifference>,
    diverged: boolean,
  ): Promise<DivergenceRecord[]> {
    const primary = this.primary();
    const records: DivergenceRecord[] = [];
    for (const [name, difference] of differences) {
      const replica = this.replica(name);
      if (diverged) this.stats.divergences++;
      const pages = difference.pages.slice(0, this.config.maxDeltaPages);
      let deltas: { page: number; delta: Uint8Array }[] = [];
      let diffBytes = 0;
      if (pages.length > 0 && !replica.ended && !primary.ended && this.driver.capabilities.has('pages')) {
        const read = await Promise.all([
          primary.call('read pages', REQUEST_TIMEOUT_MS, (vm) => vm.readPages(pages)),
          replica.call('read pages', REQUEST_TIMEOUT_MS, (vm) => vm.readPages(pages)),
        ]).catch((error: unknown) => {
          // A replica that ended meanwhile has no pages to show: the count of differing pages stays.
          if (error instanceof ReplicaRequestError && (primary.ended || replica.ended)) return undefined;
          throw error;
        });
        if (read) {
          const [mine, theirs] = read;
          deltas = pages.map((page, i) => ({ page, delta: encodePageDelta(mine[i] as Uint8Array, theirs[i] as Uint8Array) }));
          diffBytes = pages.reduce((sum, _, i) => sum + differingBytes(mine[i] as Uint8Array, theirs[i] as Uint8Array), 0);
        }
      }
      records.push({
        epoch,
        attempt,
        vmId: replica.vmId,
        peerVmId: primary.vmId,
        difference,
        deltas,
        diffBytes,
        ...(replica.mismatch ? { inputMismatch: { expected: replica.mismatch.expected, got: replica.mismatch.got } } : {}),
      });
    }
    return records;
  }

  // ---- ending -----------------------------------------------------------------------------------

  private async injectPlanned(planned: ComputationConfig['faults'][number]): Promise<void> {
    const replica = this.replicaOf(planned.target);
    if (!replica)
      throw new ComputationFailedError(`cannot inject into ${planned.target}: the computation has ${this.config.shadows} shadow(s)`);
    const memoryBytes = replica.report ? (replica.report.digest.pageHashes.length / 16) * replica.report.digest.pageSize : 2 ** 20;
    const fault = plannedFaultFor(planned, memoryBytes);
    await replica.call('take a fault', REQUEST_TIMEOUT_MS, (vm) => vm.inject(fault));
    this.recorder.event({
      epoch: planned.epoch,
      kind: 'fault',
      vmId: replica.vmId,
      message: `fault planned for ${replica.name} at the end of epoch ${planned.epoch}: ${JSON.stringify(fault)}`,
    });
  }

  /** Stops a replica the loop no longer wants; its end is recorded here, not by onGone. */
  private async retire(replica: Replica, why: string, epoch: number): Promise<void> {
    const end: VmEnd = { kind: 'killed', message: why };
    if (!replica.ended) {
      replica.markGone(end);
      this.recorder.vmEnded(replica.vmId, end, epoch);
      this.noteEnd(replica.vmId, end);
    }
    await replica.vm.kill(why);
  }

  private noteEnd(vmId: string, end: VmEnd): void {
    const summary = this.history.find((h) => h.id === vmId);
    if (summary && summary.end === undefined) Object.assign(summary, { end: describeEnd(end) });
  }

  private async finish(end: VmEnd, epoch: number): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    // A replica's own end (in its last report) says more than the kill that tidies it up.
    for (const replica of this.replicas) if (replica.report?.end) this.noteEnd(replica.vmId, replica.report.end);
    clearTimeout(this.timeout);
    this.flushRecords();
    this.alerts?.resolveAll(epoch, `the computation ended (${describeEnd(end)})`);
    await Promise.all(this.replicas.map((replica) => replica.vm.kill('computation finished')));
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

  private primary(): Replica {
    return this.replicas[0] as Replica;
  }

  private shadows(): Replica[] {
    return this.replicas.filter((replica) => replica.role === 'shadow');
  }

  private replicaOf(name: string): Replica | undefined {
    return this.replicas.find((replica) => replica.name === name);
  }

  private replica(name: string): Replica {
    const replica = this.replicaOf(name);
    if (!replica) throw new Error(`no replica named ${name}`);
    return replica;
  }
}

/** The replicas an undecided vote re-executes: the primary and every one that differs from it. */
function undecided(differing: readonly string[]): string[] {
  return ['primary', ...differing.filter((name) => name !== 'primary')];
}

/** Ended without the report of its own end and without a divergence: its host failed. */
function isLost(replica: Replica): boolean {
  return replica.ended && replica.report?.end === undefined && replica.mismatch === undefined;
}

function lostRecovery(replica: Replica): Recovery {
  const reason = `${replica.vmId} was lost: ${describeEnd(replica.end)}`;
  return { replica: replica.name, actor: 'manager', cause: { kind: 'request', reason }, reason };
}

function standing(replica: Replica): Standing {
  return { name: replica.name, ...(replica.report ? { report: replica.report } : {}), ...(replica.end ? { end: replica.end } : {}) };
}

function isRaise(action: PlannedAction): boolean {
  return action.kind === 'raise-memory' || action.kind === 'raise-cpu' || action.kind === 'raise-epoch-budget';
}

/** Why the policy acted: the prediction (stored with its id) and the rule that turned it into this action. */
function predictionCause(decision: Decision, prediction: StoredPrediction | undefined, kind: string): ActionCause {
  return {
    kind: 'prediction',
    predictionId: prediction?.id ?? -1,
    rule: ruleOf(decision.cause, decision.level, kind),
    level: decision.level,
    score: decision.score,
  };
}

/** The policy rule behind a decision, as the audit names it. */
function ruleOf(cause: 'level-up' | 'level-down' | 'forecast', level: string | null, kind: string): string {
  if (cause === 'forecast') return `forecast.${kind.startsWith('raise-') ? kind.slice('raise-'.length) : 'memory'}`;
  return `levels.${level ?? 'none'}`;
}
