// The host side of one wasm VM: implements the driver capabilities by messaging its replica.

import { ensureCapability, faultCapability, limitCapabilities } from '../capabilities.js';
import { sameState } from '../state.js';
import type {
  DiversityProfile,
  Driver,
  EpochReport,
  Fault,
  InputRecord,
  ResourceLimits,
  Role,
  SnapshotDelta,
  StateDigest,
  Vm,
  VmEnd,
  VmEvents,
} from '../types.js';
import { describeEnd } from '../vm-end.js';
import type { HostToReplica, ReplicaInit, ReplicaReply, ReplicaToHost } from './protocol.js';
import { ProcessReplicaHost, type ReplicaHost, ThreadReplicaHost } from './replica-host.js';

export interface WasmVmOptions {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
  readonly events: VmEvents;
  readonly init: Omit<ReplicaInit, 'signal'>;
  /** V8 flags of a separate replica process; undefined runs the replica in a worker thread here. */
  readonly v8Flags?: readonly string[];
  /** The driver, whose capabilities bound what the VM is asked. */
  readonly driver: Pick<Driver, 'name' | 'capabilities'>;
  /** A restored VM's checkpoint: the state its re-execution must reach at that epoch. */
  readonly restoreTarget?: { readonly epoch: number; readonly digest: StateDigest };
}

export class WasmVm implements Vm {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
  private host: ReplicaHost | undefined;
  private init: Omit<ReplicaInit, 'signal'>;
  private readonly events: VmEvents;
  private readonly pending = new Map<number, (reply: ReplicaReply) => void>();
  private nextRequest = 1;
  private gone = false;
  private inputBatch: InputRecord[] = [];
  private currentLimits: ResourceLimits;
  /** Settles start() if the VM ends before it was ready. */
  private startFailed: ((error: Error) => void) | undefined;
  /** Cleared once the re-execution reached the restore target with its state. */
  private restoreTarget: WasmVmOptions['restoreTarget'];

  constructor(private readonly options: WasmVmOptions) {
    this.id = options.id;
    this.role = options.role;
    this.profile = options.profile;
    this.events = options.events;
    this.init = options.init;
    this.currentLimits = options.init.limits;
    this.restoreTarget = options.restoreTarget;
  }

  /** The VM is gone (onGone came). */
  get ended(): boolean {
    return this.gone;
  }

  start(): Promise<void> {
    if (this.gone) return Promise.reject(new Error(`VM ${this.id} has ended and cannot start`));
    return new Promise((resolve, reject) => {
      this.startFailed = reject;
      const onMessage = (message: ReplicaToHost): void => {
        if (message.t === 'ready') {
          this.startFailed = undefined;
          resolve();
        }
        this.dispatch(message);
      };
      // Ended before it was ready (a link error, a crash, a kill): finish() fails start().
      const onExit = (error: Error | undefined): void => {
        this.finish({ kind: 'error', message: error?.message ?? 'replica ended without a report' });
      };
      const { v8Flags } = this.options;
      this.host = v8Flags
        ? new ProcessReplicaHost(this.init, v8Flags, onMessage, onExit)
        : new ThreadReplicaHost(this.init, onMessage, onExit);
    });
  }

  async kill(reason: string): Promise<void> {
    const host = this.host;
    this.finish({ kind: 'killed', message: reason });
    await host?.kill();
  }

  resume(): void {
    this.send({ t: 'go' });
  }

  async readPages(pages: readonly number[]): Promise<Uint8Array[]> {
    ensureCapability(this.options.driver, 'pages', 'reading pages');
    const reply = await this.request((id) => ({ t: 'read-pages', id, pages }));
    if (reply.kind !== 'pages') throw new Error(`VM ${this.id} could not read pages: ${describe(reply)}`);
    return reply.pages;
  }

  async snapshot(basePageHashes?: Uint8Array): Promise<SnapshotDelta> {
    ensureCapability(this.options.driver, 'checkpoint', 'a checkpoint');
    const reply = await this.request((id) => ({ t: 'snapshot', id, ...(basePageHashes ? { base: basePageHashes } : {}) }));
    if (reply.kind !== 'snapshot') throw new Error(`VM ${this.id} could not snapshot: ${describe(reply)}`);
    return reply.delta;
  }

  feed(record: InputRecord): void {
    if (this.inputBatch.length === 0) queueMicrotask(() => this.flushInputs());
    this.inputBatch.push(record);
  }

  endOfInput(): void {
    this.flushInputs();
    this.send({ t: 'log-end' });
  }

  limits(): ResourceLimits {
    return this.currentLimits;
  }

  async adjust(change: ResourceLimits): Promise<ResourceLimits> {
    for (const capability of limitCapabilities(change)) ensureCapability(this.options.driver, capability, 'this change of limits');
    if (!this.host) {
      this.init = { ...this.init, limits: { ...this.init.limits, ...change } };
      this.currentLimits = this.init.limits;
      return this.currentLimits;
    }
    const reply = await this.request((id) => ({ t: 'limits', id, limits: change }));
    if (reply.kind !== 'limits') throw new Error(`VM ${this.id} could not change limits: ${describe(reply)}`);
    this.currentLimits = reply.limits;
    return reply.limits;
  }

  async inject(fault: Fault): Promise<void> {
    ensureCapability(this.options.driver, faultCapability(fault), `a ${fault.kind} fault`);
    if (!this.host) {
      // Not started yet: the fault lands at the end of the first epoch.
      this.init = { ...this.init, faults: [...this.init.faults, { epoch: 1, fault }] };
      return;
    }
    const reply = await this.request((id) => ({ t: 'inject', id, fault }));
    if (reply.kind !== 'ok') throw new Error(`VM ${this.id} could not inject a fault: ${describe(reply)}`);
  }

  private flushInputs(): void {
    if (this.inputBatch.length === 0) return;
    const records = this.inputBatch;
    this.inputBatch = [];
    this.send({ t: 'input', records });
  }

  private dispatch(message: ReplicaToHost): void {
    if (this.gone) return;
    switch (message.t) {
      case 'ready':
      case 'flushed':
        return;
      case 'epoch':
        return this.report(message.report);
      case 'input':
        return this.events.onInput(message.record);
      case 'mismatch':
        return this.events.onInputMismatch(message);
      case 'reply': {
        const resolve = this.pending.get(message.id);
        this.pending.delete(message.id);
        return resolve?.(message.reply);
      }
      case 'gone':
        this.finish(message.end);
        void this.host?.kill();
        return;
    }
  }

  /**
   * A restored VM re-executes from its initial state: the report of the target's epoch must carry
   * the target's state. Equal, it says so and runs on; different (or ended before), it ends there.
   */
  private report(report: EpochReport): void {
    const target = this.restoreTarget;
    if (target && (report.epoch >= target.epoch || report.end)) {
      this.restoreTarget = undefined;
      if (report.epoch !== target.epoch || !sameState(report.digest, target.digest)) {
        this.finish({ kind: 'error', message: `restore of ${this.id} to epoch ${target.epoch} did not reproduce its state` });
        void this.host?.kill();
        return;
      }
      this.events.onRestored(target.epoch);
    }
    this.events.onEpoch(report);
  }

  /** The VM is gone, however it ended: no request to it may stay pending. */
  private finish(end: VmEnd): void {
    if (this.gone) return;
    this.gone = true;
    for (const resolve of this.pending.values()) resolve({ kind: 'error', message: `VM ${this.id} has ended (${describeEnd(end)})` });
    this.pending.clear();
    this.startFailed?.(new Error(describeEnd(end)));
    this.startFailed = undefined;
    this.events.onGone(end);
  }

  private request(build: (id: number) => HostToReplica): Promise<ReplicaReply> {
    if (this.gone) return Promise.resolve({ kind: 'error', message: `VM ${this.id} has ended` });
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send(build(id));
    });
  }

  private send(message: HostToReplica): void {
    if (!this.gone) this.host?.send(message);
  }
}

function describe(reply: ReplicaReply): string {
  return reply.kind === 'error' ? reply.message : `unexpected reply ${reply.kind}`;
}
