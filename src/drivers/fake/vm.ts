// One fake replica: runs the fake program epoch by epoch on the event loop, pauses at every
// barrier, records (primary) or replays (shadow, restored VM) its inputs, and keeps the driver
// contract — unless its script names a flaw to break on purpose.

import { randomBytes } from 'node:crypto';
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
  VmRequest,
} from '../types.js';
import { chainDigest, Program } from './program.js';
import type { FakeScript } from './script.js';

const INPUT_KIND = 'random';
const NO_OUTPUT = '';

export class FakeVm implements Vm {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
  private readonly program: Program;
  private readonly queue: InputRecord[] = [];
  private inputEnded = false;
  private live: boolean;
  private nextSeq: number;
  private output = NO_OUTPUT;
  private currentLimits: ResourceLimits;
  private readonly faults: { epoch: number; fault: Fault }[] = [];
  private readonly corrupted = new Set<number>();
  private started = false;
  /** At a barrier, waiting for resume(). */
  private paused = false;
  /** resume() came (it may come before the run loop is back at its pause). */
  private released = false;
  private gone = false;
  private kills = 0;
  /** Wakes the run loop: a resume, a fed input, the end of input, or the end of the VM. */
  private wake: (() => void) | undefined;

  constructor(
    private readonly driver: Pick<Driver, 'name' | 'capabilities'>,
    private readonly script: FakeScript,
    private readonly request: VmRequest,
  ) {
    this.id = request.id;
    this.role = request.role;
    this.profile = request.profile;
    this.program = new Program(script.pageSize, script.pages);
    this.currentLimits = { ...request.limits };
    this.nextSeq = request.restore?.log.length ?? 0;
    this.live = request.role === 'primary';
  }

  /** The VM is gone (onGone came). */
  get ended(): boolean {
    return this.gone;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error(`VM ${this.id} started twice`);
    this.started = true;
    void this.run().catch((error: unknown) => this.end({ kind: 'error', message: (error as Error).message }));
  }

  async kill(reason: string): Promise<void> {
    this.kills++;
    if (this.script.flaw === 'kill-not-idempotent' && this.kills > 1) {
      this.request.events.onGone({ kind: 'killed', message: reason });
      throw new Error(`VM ${this.id} was already killed`);
    }
    this.end({ kind: 'killed', message: reason });
  }

  resume(): void {
    this.released = true;
    this.poke();
  }

  async readPages(pages: readonly number[]): Promise<Uint8Array[]> {
    ensureCapability(this.driver, 'pages', 'reading pages');
    this.requirePaused('read pages');
    return pages.map((page) => (page < this.program.pageCount ? this.program.page(page) : new Uint8Array(this.script.pageSize)));
  }

  async snapshot(basePageHashes?: Uint8Array): Promise<SnapshotDelta> {
    ensureCapability(this.driver, 'checkpoint', 'a checkpoint');
    this.requirePaused('snapshot');
    const hashes = this.program.pageHashes();
    const changed = new Map<number, Uint8Array>();
    for (let page = 0; page < this.program.pageCount; page++) {
      const same =
        basePageHashes !== undefined &&
        Buffer.compare(hashes.subarray(page * 16, page * 16 + 16), basePageHashes.subarray(page * 16, page * 16 + 16)) === 0;
      if (!same) changed.set(page, this.program.page(page));
    }
    return {
      epoch: this.program.epoch,
      pageSize: this.script.pageSize,
      pageCount: this.program.pageCount,
      changed,
      registers: this.program.registers(),
      driverState: { output: this.output },
    };
  }

  feed(record: InputRecord): void {
    if (this.gone || this.script.flaw === 'ignores-feed') return;
    this.queue.push(record);
    this.poke();
  }

  endOfInput(): void {
    this.inputEnded = true;
    this.poke();
  }

  limits(): ResourceLimits {
    return this.currentLimits;
  }

  async adjust(change: ResourceLimits): Promise<ResourceLimits> {
    for (const capability of limitCapabilities(change)) ensureCapability(this.driver, capability, 'this change of limits');
    this.requireAlive('adjust its limits');
    this.currentLimits = { ...this.currentLimits, ...change };
    return this.currentLimits;
  }

  async inject(fault: Fault): Promise<void> {
    ensureCapability(this.driver, faultCapability(fault), `a ${fault.kind} fault`);
    this.requireAlive('take a fault');
    if (fault.kind === 'corrupt-input') this.corrupted.add(fault.seq);
    else this.faults.push({ epoch: this.program.epoch + 1, fault });
  }

  // ---- running ------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    const restore = this.request.restore;
    if (restore?.target && this.driver.capabilities.has('checkpoint')) {
      if (!this.loadCheckpoint(restore.target)) return;
    } else {
      this.queue.push(...(restore ? restore.log.read(0) : []));
    }
    const catchUpTo = restore?.catchUpTo ?? 0;
    while (!this.gone) {
      await this.delay();
      if (this.gone) return;
      const epoch = this.program.epoch + 1;
      if (this.crashesAt(epoch)) return this.end({ kind: 'error', message: `the host of ${this.id} failed during epoch ${epoch}` });
      const input = this.takesInput(epoch) ? await this.input(epoch) : undefined;
      if (this.gone || input === null) return;
      const before = this.digest();
      const line = this.program.step(input);
      for (const planned of this.faults.filter((f) => f.epoch === epoch)) this.applyFault(planned.fault);
      for (const fault of this.hostFaultsAt(epoch)) this.applyFault(fault);
      const chunk = new TextEncoder().encode(line);
      this.output = chainDigest(this.output, chunk);
      const digest = this.script.flaw === 'stale-digest' ? before : this.digest();
      if (restore?.target && epoch === restore.target.epoch && !this.verifyRestore(digest, restore.target.digest)) return;
      const end: VmEnd | undefined = epoch >= this.script.epochs ? { kind: 'exit', code: this.script.exitCode } : undefined;
      const report: EpochReport = {
        epoch,
        digest,
        metrics: {
          instructions: 32,
          runMs: this.script.epochMs,
          digestMs: 0,
          memoryBytes: this.program.memory.length,
          syscalls: input ? 1 : 0,
        },
        outputs: [{ stream: 'stdout', bytes: chunk }],
        ...(end ? { end } : {}),
      };
      if (end) return this.finish(report, end);
      // At the barrier as soon as it reports: the loop may read pages before this returns.
      const pauses = epoch > catchUpTo;
      if (pauses) this.paused = true;
      this.request.events.onEpoch(report);
      if (pauses) await this.pause();
    }
  }

  /** Restores memory from the checkpoint's pages; false when the VM ended instead. */
  private loadCheckpoint(target: NonNullable<NonNullable<VmRequest['restore']>['target']>): boolean {
    const pages = target.digest.pageHashes.length / 16;
    for (let page = 0; page < pages; page++) this.program.load(page, target.readPage(page));
    this.output = target.driverState.output ?? NO_OUTPUT;
    const digest = this.digest();
    if (!this.verifyRestore(digest, target.digest)) return false;
    this.queue.push(...this.request.restore!.log.read(this.program.consumed));
    return true;
  }

  /** A restored state must be the checkpoint's; false (and the VM gone) when it is not. */
  private verifyRestore(digest: StateDigest, expected: StateDigest): boolean {
    if (this.script.flaw !== 'unverified-restore' && !sameState(digest, expected)) {
      this.end({ kind: 'error', message: `restore of ${this.id} to epoch ${this.program.epoch} did not reproduce its state` });
      return false;
    }
    this.request.events.onRestored(this.program.epoch);
    return true;
  }

  private finish(report: EpochReport, end: VmEnd): void {
    if (this.script.flaw === 'events-out-of-order') {
      this.end(end);
      this.request.events.onEpoch(report);
      return;
    }
    this.request.events.onEpoch(report);
    this.end(end);
  }

  /** The epoch's input: recorded live (primary), replayed (shadow, restore), or null when the VM ended. */
  private async input(epoch: number): Promise<Uint8Array | null> {
    for (;;) {
      const record = this.queue.shift();
      if (record) {
        if (record.kind !== INPUT_KIND) return this.mismatch(epoch, record.kind);
        return this.corrupted.has(record.seq) ? corrupt(record.payload) : record.payload;
      }
      if (this.live || this.script.flaw === 'ignores-feed') {
        const payload = new Uint8Array(randomBytes(8));
        if (this.live) this.request.events.onInput({ seq: this.nextSeq++, epoch, kind: INPUT_KIND, payload });
        return payload;
      }
      if (this.inputEnded) return this.mismatch(epoch, "(end of the primary's inputs)");
      // A restored primary replays its log, then reads the outside world again.
      if (this.role === 'primary') {
        this.live = true;
        continue;
      }
      await this.sleep();
      if (this.gone) return null;
    }
  }

  private mismatch(epoch: number, expected: string): null {
    this.request.events.onInputMismatch({ epoch, expected, got: INPUT_KIND });
    this.end({ kind: 'error', message: `replay divergence: expected ${expected}, got ${INPUT_KIND}` });
    return null;
  }

  private takesInput(epoch: number): boolean {
    return this.script.inputEvery > 0 && epoch % this.script.inputEvery === 0;
  }

  /** Faults of the replica's host: they hit every incarnation of it (unless the script names one). */
  private hostFaultsAt(epoch: number): Fault[] {
    const { name, generation } = incarnation(this.id);
    return this.script.hostFaults
      .filter((f) => f.replica === name && (f.generation === undefined || f.generation === generation) && f.epoch === epoch)
      .map((f) => ({ kind: 'bitflip', address: f.address, bit: f.bit }));
  }

  private crashesAt(epoch: number): boolean {
    const { name, generation } = incarnation(this.id);
    return this.script.crashes.some((c) => c.replica === name && c.generation === generation && c.epoch === epoch);
  }

  private applyFault(fault: Fault): void {
    if (fault.kind === 'bitflip') this.program.flipBit(fault.address, fault.bit);
  }

  private digest(): StateDigest {
    return {
      pageSize: this.script.pageSize,
      pageHashes: this.program.pageHashes(),
      registers: this.program.registers(),
      outputs: this.output === NO_OUTPUT ? {} : { stdout: this.output },
    };
  }

  // ---- waiting ------------------------------------------------------------------------------------

  private async pause(): Promise<void> {
    while (!this.released && !this.gone) await this.sleep();
    this.released = false;
    this.paused = false;
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private delay(): Promise<void> {
    return new Promise((resolve) => (this.script.epochMs > 0 ? setTimeout(resolve, this.script.epochMs) : setImmediate(resolve)));
  }

  private requirePaused(what: string): void {
    this.requireAlive(what);
    if (!this.paused) throw new Error(`VM ${this.id} can ${what} only at an epoch barrier`);
  }

  private requireAlive(what: string): void {
    if (this.gone) throw new Error(`VM ${this.id} has ended and cannot ${what}`);
  }

  private end(end: VmEnd): void {
    if (this.gone) return;
    this.gone = true;
    this.poke();
    this.request.events.onGone(end);
  }
}

/** "c-x/shadow1#2" → shadow1, generation 2 (the loop's VM ids; "c-x/primary" is generation 1). */
function incarnation(vmId: string): { name: string; generation: number } {
  const [name = vmId, generation = '1'] = (vmId.split('/').pop() ?? vmId).split('#');
  return { name, generation: Number(generation) };
}

function corrupt(payload: Uint8Array): Uint8Array {
  const copy = new Uint8Array(payload);
  copy[0] = (copy[0] ?? 0) ^ 1;
  return copy;
}
