// The manager as a long-lived service: many computations in one process, a bounded number running
// at once (each is 1 + shadows worker threads or processes; hundreds at once would starve the
// host), the rest waiting in a FIFO queue. Every computation can be acted on while it runs, and
// everything that happens is published on one numbered event bus (SSE, metrics, dashboard).

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type ComputationConfig, defaultFaultAddress } from '../computation/config.js';
import { computationRow, launch, type RunningComputation } from '../computation/launch.js';
import type { EpochObserver, EpochOutcome } from '../computation/ports.js';
import type { ComputationReport } from '../computation/report.js';
import type { ComputationSpec } from '../computation/spec.js';
import { faultCapability, requireCapabilities } from '../drivers/capabilities.js';
import { defaultGuestDir } from '../drivers/guest-image.js';
import type { Endpoint, Fault } from '../drivers/types.js';
import { ShadowvmError } from '../errors.js';
import { defaultPolicy, type Policy, resolvePolicy } from '../policy/index.js';
import { ComputationNotFoundError } from '../store/errors.js';
import type { ComputationRow, Store } from '../store/types.js';
import { ManagerClosedError, NotRunningError, UnknownReplicaError } from './errors.js';
import { EventBus } from './event-bus.js';
import { type Interrupted, markInterrupted } from './recovery.js';
import { type DriverRequest, startSpec } from './start-spec.js';

/** A computation to start, validated at the edge (src/api). */
export interface StartRequest {
  readonly driver: DriverRequest;
  readonly config: ComputationConfig;
  readonly policy?: Policy;
}

export type Phase = 'queued' | 'running' | 'finished';

export interface Threshold {
  readonly name: string;
  readonly enter: number;
  readonly exit: number;
}

/** What only the live manager knows about a computation (the store has the rest). */
export interface LiveState {
  readonly phase: Phase;
  readonly epoch: number;
  readonly replicas: readonly { name: string; vmId: string; role: 'primary' | 'shadow'; profile: string }[];
  /** Latest failure-prediction score by VM id. */
  readonly scores: Readonly<Record<string, number>>;
  /** Policy levels by VM id, mildest first. */
  readonly thresholds: Readonly<Record<string, readonly Threshold[]>>;
  /** Where the outside world reaches the primary while it runs (free mode's mirrored HTTP server). */
  readonly endpoints: readonly Endpoint[];
}

export interface ManagerOptions {
  readonly store: Store;
  /** Requests name wasm guests relative to this directory. */
  readonly guestsDir: string;
  /** Requests name QEMU guest images relative to this directory (default: the one holding the built default guest). */
  readonly imagesDir?: string;
  /** Where the manager keeps its own files (stdin of computations). */
  readonly dataDir: string;
  /** Computations running at once; the rest queue. Default 2 × cores. */
  readonly concurrency?: number;
  /** Events kept for Last-Event-ID resume. */
  readonly eventCapacity?: number;
  /** Where log alerts go (default: dropped; the audit trail has them). */
  readonly writeLine?: (line: string) => void;
}

interface Entry {
  readonly id: string;
  readonly spec: ComputationSpec;
  phase: Phase;
  policy: Policy;
  handle?: RunningComputation;
  cancelReason?: string;
  epoch: number;
  primaryMemoryBytes: number;
  readonly scores: Map<string, number>;
  readonly replicas: Map<string, { role: 'primary' | 'shadow'; profile: string }>;
  endpoints: readonly Endpoint[];
  report?: ComputationReport;
}

export class Manager {
  readonly bus: EventBus;
  readonly concurrency: number;
  /** Computations found unfinished at start (a previous process died), now marked failed. */
  readonly recovered: readonly Interrupted[];
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private running = 0;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly options: ManagerOptions) {
    this.bus = new EventBus(options.eventCapacity);
    this.concurrency = Math.max(1, options.concurrency ?? 2 * availableParallelism());
    this.recovered = markInterrupted(options.store);
    mkdirSync(join(options.dataDir, 'stdin'), { recursive: true });
  }

  get store(): Store {
    return this.options.store;
  }

  /** Queues a computation; it starts as soon as a slot is free. Returns its stored row. */
  submit(request: StartRequest): ComputationRow {
    if (this.closed) throw new ManagerClosedError();
    const { spec, name, image } = startSpec(request.driver, request.config, {
      guestsDir: this.options.guestsDir,
      imagesDir: this.options.imagesDir ?? dirname(defaultGuestDir),
      defaultImage: defaultGuestDir,
      keepStdin: (text) => this.keepStdin(text),
    });
    const row = this.store.computations.create(computationRow({ name, image, spec }));
    const entry: Entry = {
      id: row.id,
      spec,
      phase: 'queued',
      policy: request.policy ?? defaultPolicy(),
      epoch: 0,
      primaryMemoryBytes: 0,
      scores: new Map(),
      replicas: new Map(),
      endpoints: [],
    };
    this.entries.set(row.id, entry);
    this.queue.push(entry);
    this.bus.publish('status', row.id, { phase: 'queued', name: row.name });
    this.pump();
    return row;
  }

  /** A computation's whole stdin, kept under the data directory by content (a reopened spec finds it). */
  private keepStdin(text: string): string {
    const path = resolve(this.options.dataDir, 'stdin', `${createHash('sha256').update(text).digest('hex')}.txt`);
    writeFileSync(path, text);
    return path;
  }

  counts(): { queued: number; running: number; finished: number } {
    let finished = 0;
    for (const entry of this.entries.values()) if (entry.phase === 'finished') finished++;
    return { queued: this.queue.length, running: this.running, finished };
  }

  /** Live state of a computation this process knows; undefined for one only the store has. */
  live(id: string): LiveState | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    const replicas = entry.handle && entry.phase === 'running' ? entry.handle.computation.live() : [];
    const thresholds: Record<string, Threshold[]> = {};
    for (const [vmId, vm] of entry.replicas) {
      thresholds[vmId] = resolvePolicy(entry.policy, { id: vmId, ...vm }).levels.map(({ name, enter, exit }) => ({ name, enter, exit }));
    }
    const endpoints = entry.phase === 'running' ? entry.endpoints : [];
    return { phase: entry.phase, epoch: entry.epoch, replicas, scores: Object.fromEntries(entry.scores), thresholds, endpoints };
  }

  report(id: string): ComputationReport | undefined {
    return this.entries.get(id)?.report;
  }

  async cancel(id: string, reason: string): Promise<void> {
    const entry = this.entry(id);
    if (entry.phase === 'finished') throw new NotRunningError(id, this.store.computations.get(id)?.status ?? 'finished');
    entry.cancelReason = reason;
    if (entry.phase === 'queued') {
      this.queue.splice(this.queue.indexOf(entry), 1);
      this.store.computations.update(id, { status: 'cancelled', report: { end: `cancelled before it started: ${reason}` } });
      this.finish(entry, 'cancelled', null);
      return;
    }
    if (entry.handle) await entry.handle.computation.cancel(reason);
  }

  rollback(id: string, reason: string): void {
    this.handle(id).computation.requestRollback(reason, 'api');
    this.bus.publish('event', id, { kind: 'note', epoch: this.entry(id).epoch, message: `rollback requested: ${reason}` });
  }

  /** Injects a fault at the end of the replica's next epoch; a bit flip without address lands in used memory. */
  inject(
    id: string,
    target: string,
    fault: { kind: 'bitflip'; bit: number; address?: number } | { kind: 'corrupt-input'; seq: number },
  ): Fault {
    const handle = this.handle(id);
    const names = handle.computation.live().map((r) => r.name);
    if (!names.includes(target)) throw new UnknownReplicaError(target, names);
    requireCapabilities(handle.driver, [{ capability: faultCapability(fault), why: `the ${fault.kind} fault requested for ${target}` }]);
    const entry = this.entry(id);
    const resolved: Fault =
      fault.kind === 'bitflip'
        ? {
            kind: 'bitflip',
            bit: fault.bit,
            address: fault.address ?? defaultFaultAddress(entry.primaryMemoryBytes || 2 ** 16, entry.epoch + 1),
          }
        : fault;
    handle.computation.injectFault(target, resolved);
    return resolved;
  }

  policy(id: string): Policy {
    return this.entry(id).policy;
  }

  setPolicy(id: string, policy: Policy): void {
    const entry = this.entry(id);
    if (entry.phase === 'finished') throw new NotRunningError(id, 'finished');
    entry.policy = policy;
    entry.handle?.setPolicy(policy);
    this.bus.publish('event', id, { kind: 'note', epoch: entry.epoch, message: `policy replaced (${policy.source})` });
  }

  /** Resolves once nothing runs or waits. */
  whenIdle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolveIdle) => this.idleWaiters.push(resolveIdle));
  }

  /** Takes no more work, cancels what waits and what runs, and waits for the runs to end. */
  async close(reason = 'the manager is shutting down'): Promise<void> {
    this.closed = true;
    for (const entry of [...this.queue]) await this.cancel(entry.id, reason);
    await Promise.all(
      [...this.entries.values()].filter((e) => e.phase === 'running').map((e) => this.cancel(e.id, reason).catch(() => undefined)),
    );
    await this.whenIdle();
  }

  // ---- running ------------------------------------------------------------------------------------

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const entry = this.queue.shift() as Entry;
      this.running++;
      void this.run(entry).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
    }
  }

  private async run(entry: Entry): Promise<void> {
    const { id } = entry;
    entry.phase = 'running';
    this.bus.publish('status', id, { phase: 'running' });
    try {
      const report = await launch({
        spec: entry.spec,
        store: this.store,
        computationId: id,
        policy: entry.policy,
        sink: { write: (stream, bytes) => this.bus.publish('output', id, { stream, base64: Buffer.from(bytes).toString('base64') }) },
        observers: [this.observer(entry)],
        onEvent: (event) => this.bus.publish('event', id, { ...event }),
        onEndpoints: (endpoints) => {
          entry.endpoints = endpoints;
          this.bus.publish('endpoints', id, { endpoints });
        },
        // The stored row, as GET …/actions serves it.
        onAction: ({ computationId: _id, ...action }) => this.bus.publish('intervention', id, action),
        onAnalysis: (analysis) => {
          for (const { vmId, score } of analysis.scores) entry.scores.set(vmId, score);
          this.bus.publish('score', id, {
            epoch: analysis.epoch,
            scores: Object.fromEntries(analysis.scores.map((s) => [s.vmId, s.score])),
          });
          for (const prediction of analysis.predictions) this.bus.publish('prediction', id, { ...prediction });
        },
        onStarted: (handle) => {
          entry.handle = handle;
          if (entry.cancelReason) void handle.computation.cancel(entry.cancelReason);
        },
        writeLine: this.options.writeLine ?? (() => {}),
      });
      entry.report = report;
      if (entry.cancelReason) this.store.computations.update(id, { status: 'cancelled' });
      this.finish(entry, entry.cancelReason ? 'cancelled' : report.exitCode === 0 ? 'succeeded' : 'failed', report.exitCode, report.end);
    } catch (error) {
      // A guest that is not wasm, or a driver failure: the computation fails, the manager does not.
      const message = error instanceof ShadowvmError ? error.message : `internal error: ${(error as Error).message}`;
      const status = entry.cancelReason ? 'cancelled' : 'failed';
      this.store.computations.update(id, { status, report: { end: message } });
      this.finish(entry, status, null, message);
    }
  }

  private finish(entry: Entry, status: string, exitCode: number | null, end?: string): void {
    entry.phase = 'finished';
    delete entry.handle;
    this.bus.publish('end', entry.id, { status, exitCode, end: end ?? status });
  }

  private observer(entry: Entry): EpochObserver {
    return {
      observe: (outcome: EpochOutcome) => {
        entry.epoch = outcome.epoch;
        const vms: Record<string, { instructions: number; runMs: number; digestMs: number; memoryBytes: number; lagMs: number }> = {};
        for (const [vmId, report] of outcome.reports) {
          const known = entry.handle?.computation.describeVm(vmId);
          if (known) entry.replicas.set(vmId, { role: known.role, profile: known.profile });
          if (known?.role === 'primary') entry.primaryMemoryBytes = report.metrics.memoryBytes;
          const { instructions, runMs, digestMs, memoryBytes } = report.metrics;
          vms[vmId] = { instructions, runMs, digestMs, memoryBytes, lagMs: outcome.lagMs.get(vmId) ?? 0 };
        }
        this.bus.publish('epoch', entry.id, { epoch: outcome.epoch, attempt: outcome.attempt, verdict: outcome.verdict.kind, vms });
        if (outcome.verdict.kind !== 'agree') {
          // The stored verdict (the observer runs once the epoch is logged), as GET …/verdicts serves it.
          const verdict = this.store.difflog
            .readVerdicts(entry.id, { from: outcome.epoch, to: outcome.epoch })
            .find((v) => v.attempt === outcome.attempt);
          if (verdict) {
            const { computationId: _id, ...stored } = verdict;
            this.bus.publish('verdict', entry.id, stored);
          }
        }
        const primaryId = [...outcome.reports.keys()].find((vmId) => entry.replicas.get(vmId)?.role === 'primary');
        for (const [vmId, difference] of outcome.differences) {
          this.bus.publish('divergence', entry.id, {
            epoch: outcome.epoch,
            attempt: outcome.attempt,
            vmId,
            peerVmId: primaryId ?? null,
            blamed: outcome.blamed,
            pageCount: difference.pages.length,
            pages: difference.pages.slice(0, 512),
            registers: difference.registers.map((r) => r.name),
            outputs: difference.outputs.map((o) => o.stream),
          });
        }
      },
    };
  }

  private entry(id: string): Entry {
    const entry = this.entries.get(id);
    if (entry) return entry;
    const stored = this.store.computations.get(id);
    if (!stored) throw new ComputationNotFoundError(id);
    throw new NotRunningError(id, `${stored.status} (from an earlier manager process)`);
  }

  private handle(id: string): RunningComputation {
    const entry = this.entry(id);
    if (entry.phase !== 'running' || !entry.handle) throw new NotRunningError(id, entry.phase === 'running' ? 'starting' : entry.phase);
    return entry.handle;
  }
}
