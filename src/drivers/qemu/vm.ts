// One replica as QEMU processes on one machine (machine.ts), whatever its mode: what every QEMU VM
// does the same way, its epochs and their reports, checkpoints, faults, limits and its end. How it
// starts and runs an epoch is its mode's: a free-runner (free-runner.ts) runs wall-clock slices, a
// lockstep VM (lockstep-vm.ts) records the primary's run or replays it.

import { diffPageHashes } from '../../pages/diff.js';
import { pagesInUse } from '../../pages/digest.js';
import { ensureCapability, faultCapability, limitCapabilities } from '../capabilities.js';
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
  Vm,
  VmEnd,
  VmRequest,
} from '../types.js';
import type { CheckpointEntry, CheckpointRegistry } from './checkpoint-registry.js';
import { QemuRequestError, StateMismatchError, VmGoneError } from './errors.js';
import type { GuestImage } from './guest-build.js';
import type { NicSpec } from './launch.js';
import { fileStem, Machine } from './machine.js';
import type { RuntimeDir } from './process.js';
import { parseProfile } from './profile.js';
import { pageSize } from './ram.js';

export interface QemuVmConfig {
  readonly request: VmRequest;
  /** The VM's driver: what its mode cannot honour, a method refuses (never a silent no-op). */
  readonly driver: Pick<Driver, 'name' | 'capabilities'>;
  readonly image: GuestImage;
  readonly runtime: RuntimeDir;
  /** Where checkpoint disks are kept (owned by the driver; they outlive the VM). */
  readonly checkpointDir: string;
  readonly checkpoints: CheckpointRegistry;
  /** Extra kernel parameters for the guest's workload. */
  readonly kernelArgs: readonly string[];
  /** Wall-clock length of an epoch (lockstep: until the VM has an epoch budget; `limits.epochBudget` instructions then). */
  readonly epochMs: number;
}

/** What a mode's machine has that another mode's lacks. */
export interface Hardware {
  readonly maxCpus: number;
  readonly nic?: NicSpec;
}

/** What a mode reports of an epoch beyond the machine's state. */
export interface EpochView {
  readonly digest: StateDigest;
  /** Counters of the mode (EpochMetrics.extra, beside the machine's icount and cpus). */
  readonly extra: Readonly<Record<string, number>>;
}

const defaultMemoryMiB = 128;

export abstract class QemuVm implements Vm {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
  protected readonly config: QemuVmConfig;
  protected readonly machine: Machine;
  /** The epoch this VM last reported (it is paused there between `onEpoch` and `resume`). */
  protected epoch = 0;
  protected lastDigest: StateDigest | undefined;
  private currentLimits: ResourceLimits;
  /** Set once, by whatever ends the VM first; settles when it is gone (after `onGone`). */
  private ending: Promise<void> | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(config: QemuVmConfig, hardware: Hardware) {
    const { request } = config;
    this.config = config;
    this.id = request.id;
    this.role = request.role;
    this.profile = request.profile;
    this.currentLimits = { ...request.limits };
    // A snapshot loads only into a VM of its own RAM size, whatever the limits say now.
    const restoredPages = request.restore?.target ? request.restore.target.digest.pageHashes.length / 16 : undefined;
    const memoryBytes = restoredPages !== undefined ? restoredPages * pageSize : (request.limits.memoryBytes ?? defaultMemoryMiB * 2 ** 20);
    this.machine = new Machine(
      {
        id: request.id,
        runtime: config.runtime,
        image: config.image,
        profile: parseProfile(request.profile),
        memoryMiB: Math.ceil(memoryBytes / 2 ** 20),
        maxCpus: hardware.maxCpus,
        kernelArgs: config.kernelArgs,
        ...(hardware.nic ? { nic: hardware.nic } : {}),
      },
      (message) => void this.end({ kind: 'error', message }),
    );
  }

  /**
   * Starts the VM and runs it to the end of its first epoch. A restored VM whose state is not its
   * target's does not run on: it ends with an error (onGone), which is its answer, not a failed start.
   */
  async start(): Promise<void> {
    try {
      await this.begin();
    } catch (error) {
      if (!(error instanceof StateMismatchError)) throw error;
      await this.end({ kind: 'error', message: error.message });
    }
  }

  async snapshot(basePageHashes?: Uint8Array): Promise<SnapshotDelta> {
    ensureCapability(this.config.driver, 'checkpoint', 'a checkpoint');
    return this.takeSnapshot(basePageHashes);
  }

  /** How the mode's VM starts: boots, loads a snapshot or clones, then runs its first epoch. */
  protected abstract begin(): Promise<void>;

  /** The mode's snapshot at the current boundary (the capability is checked). */
  protected abstract takeSnapshot(basePageHashes: Uint8Array | undefined): Promise<SnapshotDelta>;

  /** Runs the guest to the end of the current epoch; true when it powered off. */
  protected abstract runToBoundary(): Promise<boolean>;

  /** What this mode reports of `state` at the current epoch; called once per report, after its output was taken. */
  protected abstract view(state: StateDigest, end: VmEnd | undefined): EpochView;

  resume(): void {
    this.running = this.running
      .then(() => this.runEpoch())
      .catch((error: unknown) => {
        void this.end({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
      });
  }

  async readPages(pages: readonly number[]): Promise<Uint8Array[]> {
    ensureCapability(this.config.driver, 'pages', 'reading guest pages');
    return this.machine.ram.readPages(pages);
  }

  /** Lockstep inputs travel in the rr log itself; free-running inputs are mirrored packets. */
  feed(_record: InputRecord): void {}

  /** The rr log's own end (or the recording's) tells a shadow that no more input comes. */
  endOfInput(): void {}

  limits(): ResourceLimits {
    return this.currentLimits;
  }

  async adjust(change: ResourceLimits): Promise<ResourceLimits> {
    for (const capability of limitCapabilities(change)) ensureCapability(this.config.driver, capability, 'this change of limits');
    if (change.memoryBytes !== undefined) await this.machine.balloon(change.memoryBytes);
    if (change.cpuShare !== undefined) await this.machine.plugCpus(change.cpuShare);
    this.currentLimits = { ...this.currentLimits, ...change };
    return this.currentLimits;
  }

  async inject(fault: Fault): Promise<void> {
    ensureCapability(this.config.driver, faultCapability(fault), 'this fault');
    if (fault.kind === 'bitflip') this.machine.ram.flipBit(fault.address, fault.bit);
    else this.corruptNextInput();
  }

  kill(reason: string): Promise<void> {
    return this.end({ kind: 'killed', message: reason });
  }

  /** The checkpoint a restored VM starts from (it starts at its epoch), or none for a fresh VM. */
  protected restorePoint(): { readonly target: RestoreTarget; readonly checkpoint: CheckpointEntry } | undefined {
    const target = this.config.request.restore?.target;
    if (!target) return undefined;
    const checkpoint = this.config.checkpoints.find(target);
    this.epoch = checkpoint.epoch;
    return { target, checkpoint };
  }

  /**
   * A VM just loaded from `target`'s snapshot checks its RAM against the target page for page and
   * says it reached it; a RAM that differs is a StateMismatchError (the VM ends, see `start`).
   */
  protected restored(target: RestoreTarget): void {
    this.machine.checkRam(target.digest.pageHashes, `the checkpoint of epoch ${target.epoch}`);
    this.config.request.events.onRestored(target.epoch);
  }

  protected async runEpoch(): Promise<void> {
    this.epoch += 1;
    const started = performance.now();
    const before = this.machine.icount;
    const ended = await this.runToBoundary();
    const runMs = performance.now() - started;
    await this.report(Math.max(0, this.machine.icount - before), runMs, ended ? { kind: 'exit', code: 0 } : undefined);
  }

  protected async report(instructions: number, runMs: number, end: VmEnd | undefined): Promise<void> {
    const digestStart = performance.now();
    const state = await this.machine.state();
    const digestMs = performance.now() - digestStart;
    const outputs = await this.machine.serial.take();
    // Killed meanwhile: a gone VM reports nothing more (onGone is its last word).
    if (this.machine.gone) throw new VmGoneError(this.id);
    const view = this.view(state, end);
    const report: EpochReport = {
      epoch: this.epoch,
      digest: view.digest,
      metrics: {
        instructions,
        runMs,
        digestMs,
        memoryBytes: pagesInUse(state.pageHashes) * pageSize,
        syscalls: 0,
        extra: { icount: this.machine.icount, cpus: this.machine.cpus, ...view.extra },
      },
      outputs,
      ...(end ? { end } : {}),
    };
    this.lastDigest = report.digest;
    this.config.request.events.onEpoch(report);
    if (end) await this.end(end);
    else if (this.epoch <= (this.config.request.restore?.catchUpTo ?? 0)) this.resume();
  }

  /** Snapshots the machine at the current boundary into a checkpoint disk of its own. */
  protected async saveCheckpoint(basePageHashes: Uint8Array | undefined, recording?: number): Promise<SnapshotDelta> {
    await this.machine.reactivateDisks();
    const tag = `e${this.epoch}-${Date.now().toString(36)}`;
    await this.machine.saveSnapshot(tag);
    const disk = `${this.config.checkpointDir}/${fileStem(this.id)}-${tag}.qcow2`;
    this.machine.saveDisk(disk);
    await this.machine.deleteSnapshot(tag);

    const image = this.machine.ramImage();
    const hashes = image.digest();
    this.config.checkpoints.add({ epoch: this.epoch, pageHashes: hashes, tag, disk, ...(recording !== undefined ? { recording } : {}) });
    const pages =
      basePageHashes !== undefined && basePageHashes.length === hashes.length
        ? diffPageHashes(basePageHashes, hashes)
        : Array.from({ length: hashes.length / 16 }, (_, page) => page);
    return {
      epoch: this.epoch,
      pageSize,
      pageCount: hashes.length / 16,
      changed: new Map(pages.map((page) => [page, image.bytes.slice(page * pageSize, (page + 1) * pageSize)])),
      registers: this.lastDigest?.registers ?? {},
      driverState: { tag, disk },
    };
  }

  /** The next input the VM receives arrives corrupted; only a mode with corrupt-input gets here. */
  protected corruptNextInput(): void {
    throw new QemuRequestError(`VM ${this.id} cannot take corrupt-input faults`);
  }

  /** Frees what the VM holds; a mode may have more to let go of. */
  protected async teardown(): Promise<void> {
    await this.machine.remove();
  }

  /**
   * Ends the VM once, by whatever comes first (a kill, the guest's end, a failure). The machine
   * goes at once, so every wait of the VM fails now; `onGone` comes last, once all is freed.
   */
  private end(end: VmEnd): Promise<void> {
    this.ending ??= this.teardown().finally(() => this.config.request.events.onGone(end));
    return this.ending;
  }
}
