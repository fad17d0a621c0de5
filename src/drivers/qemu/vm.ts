// One replica as a QEMU process. Lockstep: the primary records (rr=record) and stops every epoch
// at whatever instruction count it reached; shadows replay its log and stop at that same count
// (replay-break). A restored VM replays from a snapshot taken during the recording, and a restored
// primary records anew once its old recording runs out. Free-running: every replica runs on its
// own for a wall-clock slice per epoch; a shadow starts as a clone of the primary at the primary's
// epoch barrier (clone.ts) and sees the primary's network input through the mirror hub (net/).
import { execFileSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { diffPageHashes } from '../../pages/diff.js';
import { pagesInUse } from '../../pages/digest.js';
import { SnapshotDeferredError } from '../snapshot-deferred.js';
import type {
  DiversityProfile,
  EpochReport,
  Fault,
  InputRecord,
  OutputChunk,
  ResourceLimits,
  Role,
  SnapshotDelta,
  StateDigest,
  Vm,
  VmEnd,
  VmRequest,
} from '../types.js';
import type { CheckpointRegistry } from './checkpoint-registry.js';
import { type CloneEnd, type CloneTimings, cloneVm } from './clone.js';
import { QemuProcessError, QemuRequestError } from './errors.js';
import type { GuestImage } from './guest-build.js';
import { type LaunchSpec, type NicSpec, qemuArgs, type RecordReplay } from './launch.js';
import { QemuProcess, type RuntimeDir } from './process.js';
import { parseProfile } from './profile.js';
import { QmpClient } from './qmp.js';
import { pageSize, RamFile } from './ram.js';
import type { Recording, RecordingStart, Recordings } from './recordings.js';
import { ReplayLogReader } from './rr-log.js';

export type ShadowingMode = 'lockstep' | 'free';

/** Free-running: the VM's NIC and its hookup to the driver's mirror hub. */
export interface VmNetwork {
  readonly nic: NicSpec;
  /** The guest holds the state the mirrored input continues from: start feeding it. */
  activate(): void;
  /** Shadows: the next mirrored packet with payload arrives corrupted (a fault injection). */
  corruptNextInput(): void;
}

export interface QemuVmConfig {
  readonly request: VmRequest;
  readonly image: GuestImage;
  readonly runtime: RuntimeDir;
  /** Where checkpoint disks are kept (owned by the driver; they outlive the VM). */
  readonly checkpointDir: string;
  readonly checkpoints: CheckpointRegistry;
  readonly mode: ShadowingMode;
  /** Lockstep only: the computation's recordings (the primary records, the others replay). */
  readonly recordings?: Recordings;
  /** Extra kernel parameters for the guest's workload. */
  readonly kernelArgs: readonly string[];
  /** Wall-clock length of the first epoch; lockstep then aims at `limits.epochBudget` instructions. */
  readonly epochMs: number;
  readonly network?: VmNetwork;
  /** Free-running shadow: the primary to clone, once it is paused at an epoch barrier. */
  readonly cloneOf?: () => Promise<QemuVm>;
  /** Lockstep: the computation's other VMs, among which a recorder finds a replayer to snapshot. */
  readonly siblings?: () => Iterable<QemuVm>;
}

const defaultMemoryMiB = 128;
const stopTimeoutMs = 180_000;
/**
 * A replayer whose instruction count has not moved for this long is stalled (see replayTo).
 * Replaying one epoch takes seconds even on a loaded host, and a lockstep guest never idles
 * (`idle=poll`, launch.ts), so its count moves whenever it runs.
 */
const replayStallMs = 10_000;
/** Restarts of a stalled replayer within one epoch before it counts as broken. */
const replayRestartsPerEpoch = 2;
/** Bytes the recorder must have written after a stop so its 4 KiB stdio buffer reached the file. */
const logFlushSlack = 12_288;
/** Extra run after a stop that left an event at the stop count (see recordEpoch). */
const settleMs = 5;
/** Extra runs allowed before a recorder that never stops cleanly counts as broken. */
const settleAttempts = 200;
/** Name of the snapshot a recorder saves as it starts, which its replayers load. */
const startSnapshot = 'start';

/** What the guest's /init prints once its workload and web server run (guests/linux/init.sh). */
const readyLine = 'shadowvm: ready';
/** A guest that never says it is ready (another image) ends its first epoch after this anyway. */
const bootMs = 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface ReplayInfo {
  readonly icount: number;
  readonly mode: string;
}

interface Launch {
  readonly rr?: RecordReplay;
  readonly loadvm?: string;
  readonly incoming?: boolean;
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

/** VM ids name computations and generations ("c1/primary#2"); file names must stay flat. */
export const fileStem = (id: string) => id.replace(/[^A-Za-z0-9_.-]/g, '_');

export class QemuVm implements Vm {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
  private readonly config: QemuVmConfig;
  private readonly ram: RamFile;
  private readonly base: Omit<LaunchSpec, 'rr' | 'loadvm' | 'incoming'>;
  private launched: LaunchSpec | undefined;
  private qemu: QemuProcess | undefined;
  private qmp: QmpClient | undefined;
  /** Lockstep recorder: reads its own log to find clean epoch boundaries. */
  private logReader: ReplayLogReader | undefined;
  /** Lockstep: the recording this VM records or replays. */
  private recording: Recording | undefined;
  /** Lockstep replayer not yet started: the snapshot it starts from (undefined: boot). */
  private replayFrom: RecordingStart | undefined;
  /** Lockstep replayer running: the snapshot its QEMU started from and the epoch it lies at. */
  private replayStart: { readonly from: RecordingStart | undefined; readonly epoch: number } | undefined;
  /** Serial file size at each epoch boundary since this QEMU started (a restart replays from one). */
  private serialAtEpoch = new Map<number, number>();
  /** Stalled replays restarted from a snapshot (a metric). */
  private replayRestarts = 0;
  /** RAM the next started replayer must show (a restore or a change of recording). */
  private pendingCheck: { readonly pageHashes: Uint8Array; readonly what: string } | undefined;
  private epoch = 0;
  private icount = 0;
  private epochMs: number;
  private currentLimits: ResourceLimits;
  private cpus = 1;
  /** Seq of the next input record: a restored primary continues the computation's log. */
  private inputSeq: number;
  /** Extra runs the last recorded epoch needed to stop cleanly (a metric). */
  private settleRuns = 0;
  private serialOffset = 0;
  private readonly serialHash: Hash = createHash('sha256');
  private lastDigest: StateDigest | undefined;
  private guestEnded = false;
  private gone = false;
  private running: Promise<void> = Promise.resolve();
  /** Clones taken of this VM, one at a time; it does not run while one is under way. */
  private cloning: Promise<unknown> = Promise.resolve();
  /** The last clone taken of this VM since it last ran: it holds the same guest state. */
  private freshClone: QemuVm | undefined;
  /** Slices this VM has run (a clone that has run no longer holds its source's state). */
  private slicesRun = 0;
  /** How the clone this VM started as went (free-running shadows). */
  cloneTimings: CloneTimings | undefined;

  constructor(config: QemuVmConfig) {
    const { request } = config;
    this.config = config;
    this.id = request.id;
    this.role = request.role;
    this.profile = request.profile;
    this.currentLimits = { ...request.limits };
    this.inputSeq = request.restore?.log.length ?? 0;
    this.epochMs = config.epochMs;
    // A snapshot loads only into a VM of its own RAM size, whatever the limits say now.
    const restoredPages = request.restore?.target ? request.restore.target.digest.pageHashes.length / 16 : undefined;
    const memoryBytes = restoredPages !== undefined ? restoredPages * pageSize : (request.limits.memoryBytes ?? defaultMemoryMiB * 2 ** 20);
    const memoryMiB = Math.ceil(memoryBytes / 2 ** 20);
    const lockstep = config.mode === 'lockstep';
    if (lockstep && config.recordings === undefined) throw new QemuRequestError('lockstep VMs need the recordings of their computation');
    const file = (suffix: string) => config.runtime.file(`${fileStem(request.id)}.${suffix}`);
    this.ram = new RamFile(file('ram'));
    this.base = {
      image: config.image,
      profile: parseProfile(request.profile),
      memoryMiB,
      maxCpus: lockstep ? 1 : Math.max(1, Math.ceil(request.limits.cpuShare ?? 1), 4),
      ramFile: this.ram.path,
      qmpSocket: file('qmp'),
      serialFile: file('serial'),
      overlay: file('qcow2'),
      kernelArgs: config.kernelArgs,
      ...(config.network ? { nic: config.network.nic } : {}),
    };
  }

  /** The epoch this VM last reported (it is paused there between `onEpoch` and `resume`). */
  get currentEpoch(): number {
    return this.epoch;
  }

  async start(): Promise<void> {
    const restore = this.config.request.restore;
    const target = restore?.target ?? null;
    const checkpoint = target ? this.config.checkpoints.find(target) : undefined;
    if (checkpoint) this.epoch = checkpoint.epoch;
    const recordings = this.config.recordings;
    if (recordings === undefined) {
      if (!checkpoint && this.config.cloneOf) return this.startAsClone(this.config.cloneOf);
      if (checkpoint) copyFileSync(checkpoint.disk, this.base.overlay);
      else this.createOverlay();
      await this.launch(checkpoint ? { loadvm: checkpoint.tag } : {});
      this.config.network?.activate();
    } else if (this.role === 'primary' && restore === undefined) {
      const recording = recordings.latest;
      if (recording === undefined || recording.startEpoch !== 0)
        throw new QemuRequestError('the lockstep primary has no recording to start');
      this.recording = recording;
      this.createOverlay();
      await this.launch({ rr: { mode: 'record', file: recording.rrFile } });
      recording.writeHeader();
    } else {
      // Replayers start lazily, once the log holds the epoch they replay (see replayEpoch).
      this.recording = recordings.get(checkpoint?.recording ?? 0);
      this.replayFrom = checkpoint ? { disk: checkpoint.disk, tag: checkpoint.tag } : undefined;
    }
    if (target) this.pendingCheck = { pageHashes: target.digest.pageHashes, what: 'the checkpoint' };
    if (this.qemu !== undefined) await this.checkPending();
    await this.runEpoch();
    if (target && this.lastDigest === undefined) throw new QemuRequestError(`restore of ${this.id} reached no epoch`);
  }

  resume(): void {
    this.running = this.running
      .then(() => this.runEpoch())
      .catch((error: unknown) => {
        void this.fail({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
      });
  }

  async readPages(pages: readonly number[]): Promise<Uint8Array[]> {
    return this.ram.readPages(pages);
  }

  async snapshot(basePageHashes?: Uint8Array): Promise<SnapshotDelta> {
    // QEMU 7.2 supports snapshots taken while replaying (their vmstate holds the log position), but
    // a snapshot taken while recording logs events no replayer repeats: every replayer then hangs
    // at that point (seen: shadows stuck a few thousand instructions past a checkpoint). A recorder's
    // checkpoint is therefore taken on a replayer paused at the same count: the same guest state.
    if (this.launched?.rr?.mode === 'record') {
      const replayers = [...(this.config.siblings?.() ?? [])].filter((vm) => vm.replaysBeside(this));
      for (const replayer of replayers) {
        try {
          return await replayer.snapshot(basePageHashes);
        } catch (error) {
          if (!(error instanceof SnapshotDeferredError)) throw error;
        }
      }
      if (replayers.length > 0)
        throw new SnapshotDeferredError(`no replayer of ${this.id} can save a snapshot at epoch ${this.epoch} (events queued)`);
    }
    await this.reactivateDisks();
    const tag = `e${this.epoch}-${Date.now().toString(36)}`;
    await this.saveSnapshot(tag);
    const disk = `${this.config.checkpointDir}/${fileStem(this.id)}-${tag}.qcow2`;
    copyFileSync(this.base.overlay, disk);
    await this.deleteSnapshot(tag);

    const image = this.ram.readImage();
    const hashes = image.digest();
    this.config.checkpoints.add({
      epoch: this.epoch,
      pageHashes: hashes,
      tag,
      disk,
      ...(this.recording ? { recording: this.recording.index } : {}),
    });
    const pages =
      basePageHashes !== undefined && basePageHashes.length === hashes.length
        ? diffPageHashes(basePageHashes, hashes)
        : Array.from({ length: hashes.length / 16 }, (_, page) => page);
    const changed = new Map(pages.map((page) => [page, image.bytes.slice(page * pageSize, (page + 1) * pageSize)]));
    return {
      epoch: this.epoch,
      pageSize,
      pageCount: hashes.length / 16,
      changed,
      registers: this.lastDigest?.registers ?? {},
      driverState: { tag, disk },
    };
  }

  /** A replayer of `recorder`'s recording, paused at the same epoch and running QEMU. */
  private replaysBeside(recorder: QemuVm): boolean {
    return (
      this !== recorder &&
      !this.gone &&
      this.qemu !== undefined &&
      this.launched?.rr?.mode === 'replay' &&
      this.recording === recorder.recording &&
      this.epoch === recorder.epoch &&
      this.icount === recorder.icount
    );
  }

  /** Lockstep inputs travel in the rr log itself; free-running inputs are mirrored packets. */
  feed(_record: InputRecord): void {}

  /** The rr log's own end (or the recording's) tells a shadow that no more input comes. */
  endOfInput(): void {}

  limits(): ResourceLimits {
    return this.currentLimits;
  }

  async adjust(change: ResourceLimits): Promise<ResourceLimits> {
    const qmp = this.requireQmp();
    if (change.memoryBytes !== undefined) {
      const max = this.base.memoryMiB * 2 ** 20;
      await qmp.execute('balloon', { value: Math.min(change.memoryBytes, max) });
    }
    if (change.cpuShare !== undefined) {
      const wanted = Math.min(Math.ceil(change.cpuShare), this.base.maxCpus);
      if (wanted > this.cpus) await this.plugCpus(wanted);
    }
    this.currentLimits = { ...this.currentLimits, ...change };
    return this.currentLimits;
  }

  async inject(fault: Fault): Promise<void> {
    // Free-running input is not logged: a corrupt-input fault hits the next mirrored packet.
    if (fault.kind === 'corrupt-input' && this.role === 'shadow' && this.config.network) return this.config.network.corruptNextInput();
    if (fault.kind !== 'bitflip') throw new QemuRequestError(`the QEMU driver cannot inject ${fault.kind} faults`);
    this.ram.flipBit(fault.address, fault.bit);
  }

  async kill(reason: string): Promise<void> {
    await this.teardown();
    this.finish({ kind: 'killed', message: reason });
  }

  private async teardown(): Promise<void> {
    await this.stopQemu();
    rmSync(this.base.overlay, { force: true });
    // A stopped recorder ends its recording: whoever follows it continues in the next one.
    if (this.launched?.rr?.mode === 'record') this.recording?.supersede();
  }

  // ---- QEMU process -------------------------------------------------------------------------------

  private createOverlay(): void {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', this.base.image.disk, '-F', 'qcow2', this.base.overlay]);
  }

  private async launch(how: Launch): Promise<void> {
    const spec: LaunchSpec = { ...this.base, ...how };
    rmSync(spec.ramFile, { force: true });
    const qemu = QemuProcess.start(this.config.runtime, fileStem(this.id), qemuArgs(spec));
    this.qemu = qemu;
    this.launched = spec;
    void qemu.exited.then((end) => {
      if (this.qemu === qemu) this.onProcessExit(end.stderr);
    });
    try {
      this.qmp = await QmpClient.connect(spec.qmpSocket);
    } catch (error) {
      const end = await Promise.race([qemu.exited, sleep(2000).then(() => undefined)]);
      if (end === undefined) throw error;
      throw new QemuProcessError(`QEMU for ${this.id} did not start: ${end.stderr.split('\n').pop() ?? 'no message'}`);
    }
    this.qmp.onEvent((event) => {
      if (event.event === 'SHUTDOWN') this.guestEnded = true;
    });
    this.icount = await this.readIcount();
    this.logReader = spec.rr?.mode === 'record' ? new ReplayLogReader(spec.rr.file, this.icount) : undefined;
  }

  /** Ends the current QEMU process (a new one may follow: a change of recording). */
  private async stopQemu(): Promise<void> {
    const qemu = this.qemu;
    this.qemu = undefined;
    this.qmp?.close();
    this.qmp = undefined;
    this.replayStart = undefined;
    await qemu?.kill();
    for (const path of [this.base.ramFile, this.base.serialFile, this.base.qmpSocket]) rmSync(path, { force: true });
  }

  private async saveSnapshot(tag: string): Promise<void> {
    const error = await this.snapshotJob('snapshot-save', tag);
    // QEMU's replay layer refuses while it holds queued events; they drain as the guest runs on.
    if (error !== undefined && /Record\/replay does not allow making snapshot right now/.test(error)) {
      throw new SnapshotDeferredError(`QEMU cannot snapshot ${this.id} at this instant: ${error}`);
    }
    if (error !== undefined) throw new QemuRequestError(`snapshot of ${this.id} failed: ${error}`);
  }

  /**
   * Removes a snapshot from the live overlay once a copy holds it. Every snapshot keeps a full RAM
   * image in the qcow2, so left there they would make each checkpoint's copy larger than the last
   * (seen: 40 MB at epoch 4, 550 MB at epoch 60); freed clusters are reused by the next one.
   */
  private async deleteSnapshot(tag: string): Promise<void> {
    const error = await this.snapshotJob('snapshot-delete', tag);
    if (error !== undefined) throw new QemuRequestError(`removing snapshot ${tag} of ${this.id} failed: ${error}`);
  }

  /** Runs a snapshot job on the overlay to its end; returns QEMU's error, if any. */
  private async snapshotJob(command: 'snapshot-save' | 'snapshot-delete', tag: string): Promise<string | undefined> {
    const qmp = this.requireQmp();
    const jobId = `${command}-${tag}`;
    const done = qmp.waitEvent('JOB_STATUS_CHANGE', stopTimeoutMs, (e) => e.data.id === jobId && e.data.status === 'concluded');
    await qmp.execute(command, { 'job-id': jobId, tag, ...(command === 'snapshot-save' ? { vmstate: 'ov' } : {}), devices: ['ov'] });
    await done;
    const jobs = await qmp.execute<{ id: string; error?: string }[]>('query-jobs');
    await qmp.execute('job-dismiss', { id: jobId });
    return jobs.find((job) => job.id === jobId)?.error;
  }

  // ---- epochs -----------------------------------------------------------------------------------

  private async runEpoch(): Promise<void> {
    this.epoch += 1;
    const started = performance.now();
    const before = this.icount;
    let ended: boolean;
    if (this.config.recordings === undefined) ended = await this.runSlice(this.epochMs);
    else if (this.launched?.rr?.mode === 'record') ended = await this.recordEpoch();
    else ended = await this.replayEpoch();
    const runMs = performance.now() - started;
    await this.report(Math.max(0, this.icount - before), runMs, ended ? { kind: 'exit', code: 0 } : undefined);
  }

  /**
   * Copies this VM's guest into `target`, a VM whose QEMU waits with `-incoming defer` (clone.ts).
   * QEMU refuses to migrate a VM again before it has run since its last migration, so the second
   * clone taken at one barrier is copied from the first (same state: neither has run since).
   */
  private async cloneInto(target: QemuVm): Promise<CloneTimings> {
    const socket = `${target.ram.path}.migrate`;
    const clone = this.cloning
      .catch(() => undefined)
      .then(async () => {
        const fresh = this.freshClone;
        const source = fresh !== undefined && fresh.slicesRun === 0 && !fresh.gone ? fresh : this;
        const timings = await cloneVm(source.cloneEnd(), target.cloneEnd(), socket);
        // The target's mirrored input starts once it holds its device state. Started at the clone
        // point instead, the packets of a running source's RAM stream (about 1 s) reached a QEMU
        // still waiting for its migration and were lost, the corrupted first request of
        // free-run.test with them, 3 runs in 8. Connections opened while the RAM streams are not
        // expected of the clone (net/hub.ts pairs only those it saw open).
        target.config.network?.activate();
        this.freshClone = target;
        return timings;
      });
    this.cloning = clone;
    try {
      return await clone;
    } finally {
      rmSync(socket, { force: true });
    }
  }

  private cloneEnd(): CloneEnd {
    return { qmp: this.requireQmp(), ramFile: this.ram.path, overlay: this.base.overlay };
  }

  /** A free-running shadow's start: a clone of the primary at its barrier, reporting that epoch. */
  private async startAsClone(primaryOf: () => Promise<QemuVm>): Promise<void> {
    const primary = await primaryOf();
    // A placeholder: QEMU opens it inactive, the clone overwrites it with the primary's overlay.
    this.createOverlay();
    await this.launch({ incoming: true });
    this.cloneTimings = await primary.cloneInto(this);
    this.epoch = primary.currentEpoch;
    await this.report(0, 0, undefined);
  }

  /** A migration leaves the source's disks inactive until it runs again; a snapshot needs them. */
  private async reactivateDisks(): Promise<void> {
    const qmp = this.requireQmp();
    if ((await qmp.execute<{ status: string }>('query-status')).status !== 'postmigrate') return;
    await qmp.execute('cont');
    await qmp.execute('stop');
  }

  /**
   * Runs for the current slice, then pauses; true when the guest powered off. A free-running
   * guest's first epoch lasts until it has booted (its workload says "ready"), so that shadows
   * cloned at that barrier start from a serving guest rather than each finishing its own boot.
   */
  private async runSlice(ms: number): Promise<boolean> {
    const qmp = this.requireQmp();
    await this.cloning.catch(() => undefined);
    this.slicesRun += 1;
    this.freshClone = undefined;
    await qmp.execute('cont');
    const start = performance.now();
    const booting = this.config.mode === 'free' && this.epoch === 1;
    const running = () => performance.now() < start + ms || (booting && performance.now() < start + bootMs && !this.serialShows(readyLine));
    while (running() && !this.guestEnded) await sleep(Math.min(20, ms));
    // A clone taken of this VM mid-slice stops and resumes it: let it finish before the barrier.
    await this.cloning.catch(() => undefined);
    await qmp.execute('stop');
    this.icount = await this.readIcount();
    return this.guestEnded;
  }

  /**
   * The recorder's epoch ends wherever its slice stopped, provided the stop is clean: a recorder
   * may take an interrupt (or run an async event) at the very count it stops at, which a replayer
   * stopped there by replay-break has not taken yet, so both would report the same count with
   * different RAM. Such a stop is run on briefly until one leaves nothing at its count; only
   * then are the replayers told the count.
   */
  private async recordEpoch(): Promise<boolean> {
    const recording = this.requireRecording();
    const reader = this.logReader;
    if (reader === undefined) throw new QemuRequestError(`VM ${this.id} records no log`);
    const before = this.icount;
    const started = performance.now();
    let ended = await this.runSlice(this.epochMs);
    this.settleRuns = 0;
    this.adaptSlice(this.icount - before, performance.now() - started);
    await this.flushLog(recording);
    for (let attempt = 0; !ended && !reader.cleanStopAt(this.icount); attempt++) {
      if (attempt === settleAttempts) throw new QemuProcessError(`recorder ${this.id} found no clean stop after ${attempt} tries`);
      ended = await this.runSlice(settleMs);
      await this.flushLog(recording);
      this.settleRuns = attempt + 1;
    }
    recording.publish(this.epoch, this.icount);
    this.recordBoundary();
    if (ended) recording.guestEnded(this.epoch);
    return ended;
  }

  /** Replays to the recorder's count for this epoch, following it into later recordings. */
  private async replayEpoch(): Promise<boolean> {
    for (;;) {
      const recording = this.requireRecording();
      const boundary = await recording.boundary(this.epoch);
      if (boundary.kind === 'guest-ended') return true;
      if (boundary.kind === 'icount') {
        if (this.qemu === undefined) await this.launchReplayer(recording);
        await this.replayTo(boundary.icount);
        return this.guestEnded || recording.endedIn(this.epoch);
      }
      const recordings = this.config.recordings as Recordings;
      if (this.role === 'primary' && recordings.latest === recording) {
        await this.startRecording(recordings);
        return this.recordEpoch();
      }
      await this.follow(await recordings.after(recording));
    }
  }

  /** Starts a replayer at boundary `startEpoch` (by default the one before the epoch it replays). */
  private async launchReplayer(recording: Recording, startEpoch = this.epoch - 1): Promise<void> {
    const from = this.replayFrom;
    if (from) copyFileSync(from.disk, this.base.overlay);
    else this.createOverlay();
    await this.launch({ rr: { mode: 'replay', file: recording.rrFile }, ...(from ? { loadvm: from.tag } : {}) });
    // A new QEMU starts with an empty serial file.
    this.replayStart = { from, epoch: startEpoch };
    this.serialAtEpoch = new Map([[startEpoch, 0]]);
    await this.checkPending();
  }

  /** Moves a replayer paused at the end of a recording onto the next one (same guest state). */
  private async follow(next: Recording): Promise<void> {
    const expected = this.lastDigest?.pageHashes;
    await this.stopQemu();
    this.recording = next;
    this.replayFrom = next.start;
    if (expected) this.pendingCheck = { pageHashes: expected, what: `the start of recording ${next.index}` };
  }

  /**
   * A restored primary replayed its old recording to where it ended: from here it records a new
   * one. QEMU cannot switch from replaying to recording, so the state moves through a snapshot,
   * and the new recorder saves its own start snapshot for the replayers that follow it.
   */
  private async startRecording(recordings: Recordings): Promise<void> {
    const expected = this.lastDigest?.pageHashes;
    const handover = `handover-${this.epoch - 1}`;
    await this.saveSnapshot(handover);
    const kept = `${this.config.checkpointDir}/${fileStem(this.id)}-${handover}.qcow2`;
    copyFileSync(this.base.overlay, kept);
    await this.stopQemu();
    copyFileSync(kept, this.base.overlay);
    rmSync(kept, { force: true });
    const rrFile = recordings.nextRrFile();
    await this.launch({ rr: { mode: 'record', file: rrFile, startSnapshot }, loadvm: handover });
    const startDisk = `${rrFile}.start.qcow2`;
    copyFileSync(this.base.overlay, startDisk);
    const recording = recordings.open(this.epoch - 1, { disk: startDisk, tag: startSnapshot });
    recording.writeHeader();
    this.recording = recording;
    if (expected) this.pendingCheck = { pageHashes: expected, what: 'the replayed state' };
    await this.checkPending();
  }

  /**
   * Runs a replayer to the recorder's count. A replayer can stall, "running" short of the count
   * forever: seen with gdb, the log's next event is a CHECKPOINT_CLOCK_VIRTUAL (a virtual timer
   * ran there while recording) that no timer of the replayer reaches, so its vCPU gets a budget of
   * 0 and it spins with its main loop; no nudge moves it (stop/cont, a new break, QMP traffic).
   * With QEMU's host-tuned clock (`shift=auto`) and a halting guest that happened about 1 epoch in
   * 300, and in every recording that starts from a snapshot; launch.ts's fixed clock removed it
   * (none in 1,100 epochs). Should one still come, the replayer restarts from the latest snapshot
   * of its recording, which passed most of those stalls; one that recurs there fails the replayer.
   */
  private async replayTo(icount: number): Promise<void> {
    for (let restarts = 0; this.icount !== icount; restarts++) {
      const stall = await this.runReplayerTo(icount);
      if (stall === undefined) break;
      if (restarts === replayRestartsPerEpoch) throw await this.stuckReplayer(icount, stall);
      await this.restartReplayer();
    }
    // A replayer whose guest powered off stops where the request was logged, short of the count.
    if (this.icount !== icount && !this.guestEnded) {
      this.config.request.events.onInputMismatch({ epoch: this.epoch, expected: `icount ${icount}`, got: `icount ${this.icount}` });
    }
  }

  /** Lets the replayer run until it stops at `icount` (undefined) or makes no progress (why). */
  private async runReplayerTo(icount: number): Promise<string | undefined> {
    const qmp = this.requireQmp();
    await qmp.execute('replay-break', { icount });
    let stoppedMeanwhile = false;
    const stopped = qmp.waitEvent('STOP', 24 * 3600_000).then(() => (stoppedMeanwhile = true));
    stopped.catch(() => undefined);
    await qmp.execute('cont');
    for (let seen = this.icount; ; ) {
      await Promise.race([stopped, sleep(replayStallMs)]);
      const now = await this.readIcount();
      if (stoppedMeanwhile) {
        this.icount = now;
        return undefined;
      }
      if (now === seen) return `no progress at instruction ${now} in ${replayStallMs / 1000} s`;
      seen = now;
    }
  }

  /**
   * Restarts a stalled replayer from the latest snapshot of its recording that lies inside the
   * current QEMU's run (a checkpoint at a boundary it reported, else the snapshot or boot it
   * started from). Its serial file restarts too: what it prints again up to the last boundary is
   * not output anew.
   */
  private async restartReplayer(): Promise<void> {
    const recording = this.requireRecording();
    const start = this.replayStart;
    if (start === undefined) throw new QemuRequestError(`replayer ${this.id} has no start to replay from`);
    const checkpoint = this.config.checkpoints.latestIn(recording.index, (epoch) => epoch < this.epoch && this.serialAtEpoch.has(epoch));
    const point = checkpoint ?? start.from;
    const pointEpoch = checkpoint?.epoch ?? start.epoch;
    if (point !== undefined && !existsSync(point.disk))
      throw new QemuProcessError(`replayer ${this.id} stalled and its snapshot of epoch ${pointEpoch} is gone`);
    const replayedAgain = this.serialOffset - (this.serialAtEpoch.get(pointEpoch) ?? 0);
    this.replayRestarts += 1;
    await this.stopQemu();
    this.replayFrom = point ? { disk: point.disk, tag: point.tag } : undefined;
    if (checkpoint) this.pendingCheck = { pageHashes: checkpoint.pageHashes, what: `the checkpoint of epoch ${checkpoint.epoch}` };
    await this.launchReplayer(recording, pointEpoch);
    this.serialOffset = replayedAgain;
  }

  /** Says where a replayer that never stopped at `icount` got stuck (it may not answer either). */
  private async stuckReplayer(icount: number, cause: unknown): Promise<Error> {
    const qmp = this.requireQmp();
    const where = await Promise.all([
      qmp.execute<ReplayInfo>('query-replay').then((info) => `at instruction ${info.icount}`),
      qmp.execute<{ status: string }>('query-status').then((status) => `status ${status.status}`),
    ]).then(
      (parts) => parts.join(', '),
      () => 'not answering',
    );
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new QemuProcessError(`replayer ${this.id} did not stop at instruction ${icount} (${where}): ${reason}`);
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
  private async flushLog(recording: Recording): Promise<void> {
    const qmp = this.requireQmp();
    const target = statSync(recording.rrFile).size + logFlushSlack;
    for (let i = 0; i < 2000 && statSync(recording.rrFile).size < target; i++) await qmp.execute('query-status');
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
    // A recorder runs on after its guest asks to power off, until its main loop stops it; a
    // replayer stops where the request was logged. Their RAM after that request is not comparable,
    // so a lockstep VM whose guest ended reports the state of the last boundary both passed (with
    // the outputs and the end up to the very end).
    const compared = end !== undefined && this.config.recordings !== undefined && this.lastDigest !== undefined ? this.lastDigest : digest;
    const outputs = await this.newSerialOutput();
    if (this.replayStart !== undefined) this.serialAtEpoch.set(this.epoch, this.serialOffset);
    const report: EpochReport = {
      epoch: this.epoch,
      // Free-running replicas print at their own pace (a clone's console starts at the clone): a
      // running digest of their output is not comparable; their answers are paired instead.
      digest: { ...compared, outputs: this.config.recordings ? { serial: this.serialHash.copy().digest('hex') } : {} },
      metrics: {
        instructions,
        runMs,
        digestMs,
        memoryBytes: pagesInUse(digest.pageHashes) * pageSize,
        syscalls: 0,
        extra: {
          icount: this.icount,
          cpus: this.cpus,
          recording: this.recording?.index ?? -1,
          settleRuns: this.settleRuns,
          replayRestarts: this.replayRestarts,
        },
      },
      outputs,
      ...(end ? { end } : {}),
    };
    this.lastDigest = report.digest;
    this.config.request.events.onEpoch(report);
    if (end) await this.fail(end);
    else if (this.epoch <= (this.config.request.restore?.catchUpTo ?? 0)) this.resume();
  }

  private async digest(): Promise<StateDigest> {
    const pageHashes = this.ram.readImage().digest();
    const registers = parseRegisters(await this.requireQmp().hmp('info registers'));
    return { pageSize, pageHashes, registers, outputs: {} };
  }

  /** Serial bytes written since the last epoch (a restarted QEMU starts a new file). */
  private async newSerialOutput(): Promise<OutputChunk[]> {
    const size = statSync(this.base.serialFile, { throwIfNoEntry: false })?.size ?? 0;
    if (size < this.serialOffset) this.serialOffset = 0;
    if (size <= this.serialOffset) return [];
    const chunks: Buffer[] = [];
    for await (const chunk of createReadStream(this.base.serialFile, { start: this.serialOffset, end: size - 1 })) {
      chunks.push(chunk as Buffer);
    }
    this.serialOffset = size;
    const bytes = Buffer.concat(chunks);
    this.serialHash.update(bytes);
    return [{ stream: 'serial', bytes: new Uint8Array(bytes) }];
  }

  private serialShows(text: string): boolean {
    return readFileSync(this.base.serialFile, { flag: 'r' }).includes(text);
  }

  private async readIcount(): Promise<number> {
    if (this.launched?.rr === undefined) return 0;
    return (await this.requireQmp().execute<ReplayInfo>('query-replay')).icount;
  }

  // ---- restore, resources -----------------------------------------------------------------------

  /** After a snapshot load the RAM must equal the state it was taken from, page for page. */
  private async checkPending(): Promise<void> {
    const check = this.pendingCheck;
    this.pendingCheck = undefined;
    if (check === undefined) return;
    const got = this.ram.readImage().digest();
    if (Buffer.compare(got, check.pageHashes) !== 0) {
      throw new QemuRequestError(`restore of ${this.id} to ${check.what} did not reproduce its memory`);
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

  private requireRecording(): Recording {
    if (this.recording === undefined) throw new QemuRequestError(`VM ${this.id} follows no recording`);
    return this.recording;
  }

  private onProcessExit(stderr: string): void {
    if (this.gone) return;
    // QEMU often says why on the lines before its last one (e.g. which device state failed to load).
    const reason = stderr
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(-3)
      .join(' | ');
    void this.fail({ kind: 'error', message: `QEMU exited unexpectedly: ${reason}` });
  }

  private async fail(end: VmEnd): Promise<void> {
    if (this.gone) return;
    await this.teardown();
    this.finish(end);
  }

  private finish(end: VmEnd): void {
    if (this.gone) return;
    this.gone = true;
    this.config.request.events.onGone(end);
  }
}
