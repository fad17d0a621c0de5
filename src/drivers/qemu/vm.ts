// One replica as a QEMU process. Lockstep: the primary records (rr=record) and stops every epoch
// at whatever instruction count it reached; shadows replay its log and stop at that same count
// (replay-break). Free-running: every replica runs on its own for a wall-clock slice per epoch.
import { execFileSync } from 'node:child_process';
import { copyFileSync, createReadStream, rmSync, statSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import type {
  DiversityProfile, EpochReport, Fault, InputRecord, OutputChunk, ResourceLimits, Role, SnapshotDelta,
  StateDigest, Vm, VmEnd, VmRequest,
} from '../types.js';
import { QemuProcessError, QemuRequestError } from './errors.js';
import type { GuestImage } from './guest-build.js';
import { qemuArgs, type LaunchSpec } from './launch.js';
import { parseProfile } from './profile.js';
import { QemuProcess, type RuntimeDir } from './process.js';
import { QmpClient } from './qmp.js';
import { digestPages, pageSize, RamFile } from './ram.js';
import type { LockstepTimeline } from './timeline.js';

export type ShadowingMode = 'lockstep' | 'free';

export interface QemuVmConfig {
  readonly request: VmRequest;
  readonly image: GuestImage;
  readonly runtime: RuntimeDir;
  /** Where checkpoint disks are kept (owned by the driver; they outlive the VM). */
  readonly checkpointDir: string;
  readonly mode: ShadowingMode;
  /** Lockstep only: the computation's timeline (the primary publishes, shadows follow). */
  readonly timeline?: LockstepTimeline;
  /** Workload rounds before the guest powers off (0 = forever). */
  readonly rounds: number;
  /** Wall-clock length of the first epoch; lockstep then aims at `limits.epochBudget` instructions. */
  readonly epochMs: number;
}

const defaultMemoryMiB = 128;
const stopTimeoutMs = 180_000;
/** Bytes the recorder must have written after a stop so its 4 KiB stdio buffer reached the file. */
const logFlushSlack = 12_288;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface ReplayInfo {
  readonly icount: number;
  readonly mode: string;
}

/** `info registers` → name → hex value (CPU#0; control and segment registers included). */
export function parseRegisters(text: string): Record<string, string> {
  const registers: Record<string, string> = {};
  for (const match of text.matchAll(/\b([A-Z][A-Z0-9]*)\s*=\s*([0-9a-f]+)\b/g)) {
    const [, name, value] = match;
    if (name !== undefined && value !== undefined && !(name in registers)) registers[name] = value;
  }
  return registers;
}

export class QemuVm implements Vm {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
  private readonly config: QemuVmConfig;
  private readonly ram: RamFile;
  private readonly spec: LaunchSpec;
  private qemu: QemuProcess | undefined;
  private qmp: QmpClient | undefined;
  private epoch = 0;
  private icount = 0;
  private epochMs: number;
  private currentLimits: ResourceLimits;
  private cpus = 1;
  private inputSeq = 0;
  private serialOffset = 0;
  private readonly serialHash: Hash = createHash('sha256');
  private lastDigest: StateDigest | undefined;
  private guestEnded = false;
  private gone = false;
  private running: Promise<void> = Promise.resolve();

  constructor(config: QemuVmConfig) {
    const { request } = config;
    this.config = config;
    this.id = request.id;
    this.role = request.role;
    this.profile = request.profile;
    this.currentLimits = { ...request.limits };
    this.epochMs = config.epochMs;
    const memoryMiB = Math.ceil((request.limits.memoryBytes ?? defaultMemoryMiB * 2 ** 20) / 2 ** 20);
    const lockstep = config.mode === 'lockstep';
    if (lockstep && config.timeline === undefined) throw new QemuRequestError('lockstep VMs need a timeline');
    const file = (suffix: string) => config.runtime.file(`${request.id}.${suffix}`);
    this.ram = new RamFile(file('ram'));
    this.spec = {
      image: config.image,
      profile: parseProfile(request.profile),
      memoryMiB,
      maxCpus: lockstep ? 1 : Math.max(1, Math.ceil(request.limits.cpuShare ?? 1), 4),
      ramFile: this.ram.path,
      qmpSocket: file('qmp'),
      serialFile: file('serial'),
      overlay: file('qcow2'),
      rounds: config.rounds,
      ...(lockstep && config.timeline
        ? { rr: { mode: request.role === 'primary' ? 'record' : 'replay', file: config.timeline.rrFile } as const }
        : {}),
      ...(request.restore?.target ? { loadvm: this.checkpointTag(request.restore.target.driverState) } : {}),
    };
  }

  async start(): Promise<void> {
    const target = this.config.request.restore?.target ?? null;
    if (target) {
      copyFileSync(this.checkpointDisk(target.driverState), this.spec.overlay);
      this.epoch = target.epoch;
    } else {
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', this.spec.image.disk, '-F', 'qcow2', this.spec.overlay]);
    }
    rmSync(this.spec.ramFile, { force: true });
    // A replayer reads the recorder's log from its first byte: wait until the first epoch is in it.
    if (this.spec.rr?.mode === 'replay') await this.config.timeline?.boundary(this.epoch + 1);
    this.qemu = QemuProcess.start(this.config.runtime, this.id, qemuArgs(this.spec));
    void this.qemu.exited.then((end) => this.onProcessExit(end.stderr));
    this.qmp = await QmpClient.connect(this.spec.qmpSocket);
    this.qmp.onEvent((event) => {
      if (event.event === 'SHUTDOWN') this.guestEnded = true;
    });
    if (this.spec.rr?.mode === 'record') this.config.timeline?.writeHeader();
    if (target) await this.checkRestored(target.digest);
    await this.runEpoch();
  }

  resume(): void {
    this.running = this.running.then(() => this.runEpoch()).catch((error: unknown) => {
      void this.fail({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
    });
  }

  async readPages(pages: readonly number[]): Promise<Uint8Array[]> {
    return this.ram.readPages(pages);
  }

  async snapshot(basePageHashes?: Uint8Array): Promise<SnapshotDelta> {
    const qmp = this.requireQmp();
    const tag = `e${this.epoch}-${Date.now().toString(36)}`;
    const jobId = `save-${tag}`;
    const done = qmp.waitEvent('JOB_STATUS_CHANGE', stopTimeoutMs, (e) => e.data.id === jobId && e.data.status === 'concluded');
    await qmp.execute('snapshot-save', { 'job-id': jobId, tag, vmstate: 'ov', devices: ['ov'] });
    await done;
    const jobs = await qmp.execute<{ id: string; error?: string }[]>('query-jobs');
    const error = jobs.find((job) => job.id === jobId)?.error;
    await qmp.execute('job-dismiss', { id: jobId });
    if (error !== undefined) throw new QemuRequestError(`checkpoint of ${this.id} failed: ${error}`);
    const disk = `${this.config.checkpointDir}/${this.id}-${tag}.qcow2`;
    copyFileSync(this.spec.overlay, disk);

    const memory = this.ram.readAll();
    const hashes = await digestPages(memory);
    const changed = new Map<number, Uint8Array>();
    for (let page = 0; page < hashes.length / 16; page++) {
      const same = basePageHashes !== undefined && basePageHashes.length === hashes.length &&
        Buffer.compare(hashes.subarray(page * 16, page * 16 + 16), basePageHashes.subarray(page * 16, page * 16 + 16)) === 0;
      if (!same) changed.set(page, Uint8Array.from(memory.subarray(page * pageSize, (page + 1) * pageSize)));
    }
    return {
      epoch: this.epoch,
      pageSize,
      pageCount: hashes.length / 16,
      changed,
      registers: this.lastDigest?.registers ?? {},
      driverState: { tag, disk },
    };
  }

  /** Lockstep inputs travel in the rr log itself; free-running inputs are mirrored packets. */
  feed(_record: InputRecord): void {}

  /** The rr log's own end (or the timeline's) tells a shadow that no more input comes. */
  endOfInput(): void {}

  limits(): ResourceLimits {
    return this.currentLimits;
  }

  async adjust(change: ResourceLimits): Promise<ResourceLimits> {
    const qmp = this.requireQmp();
    if (change.memoryBytes !== undefined) {
      const max = this.spec.memoryMiB * 2 ** 20;
      await qmp.execute('balloon', { value: Math.min(change.memoryBytes, max) });
    }
    if (change.cpuShare !== undefined) {
      const wanted = Math.min(Math.ceil(change.cpuShare), this.spec.maxCpus);
      if (wanted > this.cpus) await this.plugCpus(wanted);
    }
    this.currentLimits = { ...this.currentLimits, ...change };
    return this.currentLimits;
  }

  async inject(fault: Fault): Promise<void> {
    if (fault.kind !== 'bitflip') throw new QemuRequestError(`the QEMU driver cannot inject ${fault.kind} faults`);
    this.ram.flipBit(fault.address, fault.bit);
  }

  async kill(reason: string): Promise<void> {
    await this.teardown(reason);
    this.finish({ kind: 'killed', message: reason });
  }

  private async teardown(reason: string): Promise<void> {
    this.qmp?.close();
    await this.qemu?.kill();
    for (const path of [this.spec.ramFile, this.spec.overlay, this.spec.serialFile, this.spec.qmpSocket]) rmSync(path, { force: true });
    if (this.role === 'primary') this.config.timeline?.fail(reason);
  }

  // ---- epochs -----------------------------------------------------------------------------------

  private async runEpoch(): Promise<void> {
    const qmp = this.requireQmp();
    this.epoch += 1;
    const before = await this.readIcount();
    const started = performance.now();
    let reached: boolean;
    if (this.spec.rr?.mode === 'replay') reached = await this.replayTo(qmp);
    else reached = await this.runSlice(qmp);
    const runMs = performance.now() - started;
    this.icount = await this.readIcount();
    const instructions = this.icount - before;
    if (this.spec.rr?.mode === 'record') {
      this.adaptSlice(instructions, runMs);
      await this.flushLog(qmp);
      this.config.timeline?.publish(this.epoch, this.icount);
      this.recordBoundary();
    }
    const ended = this.guestEnded || !reached;
    if (ended && this.spec.rr?.mode === 'record') this.config.timeline?.end(this.epoch);
    await this.report(instructions, runMs, ended ? { kind: 'exit', code: 0 } : undefined);
  }

  /** Runs for the current slice, then pauses (the recorder's epoch ends wherever it stopped). */
  private async runSlice(qmp: QmpClient): Promise<boolean> {
    await qmp.execute('cont');
    const deadline = performance.now() + this.epochMs;
    while (performance.now() < deadline && !this.guestEnded) await sleep(Math.min(20, this.epochMs));
    await qmp.execute('stop');
    return true;
  }

  /** Replays up to the primary's boundary; false when the primary ended before this epoch. */
  private async replayTo(qmp: QmpClient): Promise<boolean> {
    const boundary = await this.config.timeline?.boundary(this.epoch);
    if (boundary === undefined) return false;
    await qmp.execute('replay-break', { icount: boundary });
    const stopped = qmp.waitEvent('STOP', stopTimeoutMs);
    await qmp.execute('cont');
    await stopped;
    const icount = await this.readIcount();
    if (icount !== boundary) {
      this.config.request.events.onInputMismatch({ epoch: this.epoch, expected: `icount ${boundary}`, got: `icount ${icount}` });
    }
    return true;
  }

  /** Aims the next slice at `epochBudget` instructions from the rate just measured. */
  private adaptSlice(instructions: number, runMs: number): void {
    const budget = this.currentLimits.epochBudget;
    if (budget === undefined || instructions <= 0 || runMs <= 0) return;
    this.epochMs = Math.min(5000, Math.max(20, (budget / instructions) * runMs));
  }

  /**
   * A paused recorder still holds up to 4 KiB of log in its stdio buffer, which a replaying shadow
   * needs. Every QMP command logs a clock read, so cheap commands push the buffer out.
   */
  private async flushLog(qmp: QmpClient): Promise<void> {
    const file = this.config.timeline?.rrFile;
    if (file === undefined) return;
    const target = statSync(file).size + logFlushSlack;
    for (let i = 0; i < 2000 && statSync(file).size < target; i++) await qmp.execute('query-status');
  }

  private recordBoundary(): void {
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setBigUint64(0, BigInt(this.icount));
    this.config.request.events.onInput({ seq: this.inputSeq++, epoch: this.epoch, kind: 'rr-boundary', payload });
  }

  private async report(instructions: number, runMs: number, end: VmEnd | undefined): Promise<void> {
    const digestStart = performance.now();
    const digest = await this.digest();
    const digestMs = performance.now() - digestStart;
    const outputs = await this.newSerialOutput();
    const report: EpochReport = {
      epoch: this.epoch,
      digest: { ...digest, outputs: { serial: this.serialHash.copy().digest('hex') } },
      metrics: {
        instructions,
        runMs,
        digestMs,
        memoryPages: digest.pageHashes.length / 16,
        syscalls: 0,
        extra: { icount: this.icount, cpus: this.cpus },
      },
      outputs,
      ...(end ? { end } : {}),
    };
    this.lastDigest = report.digest;
    this.config.request.events.onEpoch(report);
    if (end) await this.fail(end);
    else if (this.epoch < (this.config.request.restore?.catchUpTo ?? 0)) this.resume();
  }

  private async digest(): Promise<StateDigest> {
    const pageHashes = await digestPages(this.ram.readAll());
    const registers = parseRegisters(await this.requireQmp().hmp('info registers'));
    return { pageSize, pageHashes, registers, outputs: {} };
  }

  private async newSerialOutput(): Promise<OutputChunk[]> {
    const size = statSync(this.spec.serialFile).size;
    if (size <= this.serialOffset) return [];
    const chunks: Buffer[] = [];
    for await (const chunk of createReadStream(this.spec.serialFile, { start: this.serialOffset, end: size - 1 })) {
      chunks.push(chunk as Buffer);
    }
    this.serialOffset = size;
    const bytes = Buffer.concat(chunks);
    this.serialHash.update(bytes);
    return [{ stream: 'serial', bytes: new Uint8Array(bytes) }];
  }

  private async readIcount(): Promise<number> {
    if (this.spec.rr === undefined) return 0;
    return (await this.requireQmp().execute<ReplayInfo>('query-replay')).icount;
  }

  // ---- restore, resources -----------------------------------------------------------------------

  private checkpointTag(state: Readonly<Record<string, string>>): string {
    const tag = state.tag;
    if (tag === undefined) throw new QemuRequestError('checkpoint has no QEMU snapshot tag');
    return tag;
  }

  private checkpointDisk(state: Readonly<Record<string, string>>): string {
    const disk = state.disk;
    if (disk === undefined) throw new QemuRequestError('checkpoint has no QEMU disk');
    return disk;
  }

  /** After -loadvm the RAM must equal the checkpoint's: anything else is a failed restore. */
  private async checkRestored(expected: StateDigest): Promise<void> {
    const got = await digestPages(this.ram.readAll());
    if (Buffer.compare(got, expected.pageHashes) !== 0) {
      throw new QemuRequestError(`restore of ${this.id} to the checkpoint did not reproduce its memory`);
    }
  }

  private async plugCpus(wanted: number): Promise<void> {
    const qmp = this.requireQmp();
    type Slot = { type: string; props: Record<string, number>; 'qom-path'?: string };
    const slots = await qmp.execute<Slot[]>('query-hotpluggable-cpus');
    for (const slot of slots.filter((s) => s['qom-path'] === undefined)) {
      if (this.cpus >= wanted) break;
      await qmp.execute('device_add', { driver: slot.type, id: `cpu${this.cpus}`, ...slot.props });
      this.cpus += 1;
    }
  }

  // ---- ending -----------------------------------------------------------------------------------

  private requireQmp(): QmpClient {
    if (this.qmp === undefined || this.gone) throw new QemuProcessError(`VM ${this.id} is not running`);
    return this.qmp;
  }

  private onProcessExit(stderr: string): void {
    if (this.gone) return;
    void this.fail({ kind: 'error', message: `QEMU exited unexpectedly: ${stderr.split('\n').pop() ?? ''}` });
  }

  private async fail(end: VmEnd): Promise<void> {
    if (this.gone) return;
    await this.teardown(end.kind);
    this.finish(end);
  }

  private finish(end: VmEnd): void {
    if (this.gone) return;
    this.gone = true;
    this.config.request.events.onGone(end);
  }
}
