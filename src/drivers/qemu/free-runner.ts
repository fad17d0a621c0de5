// A free-running replica (COLO-style): every replica runs on its own for a wall-clock slice per
// epoch. A shadow starts as a clone of the primary at the primary's epoch barrier (clone.ts) and
// sees the primary's network input through the mirror hub (net/).
import { rmSync } from 'node:fs';
import type { SnapshotDelta, StateDigest } from '../types.js';
import { type CloneTimings, cloneVm } from './clone.js';
import { QemuRequestError } from './errors.js';
import type { NicSpec } from './launch.js';
import { type EpochView, QemuVm, type QemuVmConfig } from './vm.js';

/** The VM's NIC and its hookup to the driver's mirror hub. */
export interface VmNetwork {
  readonly nic: NicSpec;
  /** The guest holds the state the mirrored input continues from: start feeding it. */
  activate(): void;
  /** Shadows: the next mirrored packet with payload arrives corrupted (a fault injection). */
  corruptNextInput(): void;
}

export interface FreeRunnerConfig extends QemuVmConfig {
  readonly network: VmNetwork;
  /** A shadow of the primary's hardware: the primary to clone, once it is paused at an epoch barrier. */
  readonly cloneOf?: () => Promise<FreeRunner>;
}

/** What the guest's /init prints once its workload and web server run (guests/linux/init.sh). */
const readyLine = 'shadowvm: ready';
/** A guest that never says it is ready (another image) ends its first epoch after this anyway. */
const bootMs = 60_000;

export class FreeRunner extends QemuVm {
  private readonly network: VmNetwork;
  private readonly cloneOf: (() => Promise<FreeRunner>) | undefined;
  /** Clones taken of this VM, one at a time; it does not run while one is under way. */
  private cloning: Promise<unknown> = Promise.resolve();
  /** The last clone taken of this VM since it last ran: it holds the same guest state. */
  private freshClone: FreeRunner | undefined;
  /** Slices this VM has run (a clone that has run no longer holds its source's state). */
  private slicesRun = 0;
  /** How the clone this VM started as went (shadows of the primary's hardware). */
  cloneTimings: CloneTimings | undefined;

  constructor(config: FreeRunnerConfig) {
    super(config, { maxCpus: Math.max(1, Math.ceil(config.request.limits.cpuShare ?? 1), 4), nic: config.network.nic });
    this.network = config.network;
    this.cloneOf = config.cloneOf;
  }

  protected async begin(): Promise<void> {
    if (this.cloneOf) return this.startAsClone(this.cloneOf);
    const restore = this.restorePoint();
    if (restore) this.machine.loadDisk(restore.checkpoint.disk);
    else this.machine.createOverlay();
    await this.machine.launch(restore ? { loadvm: restore.checkpoint.tag } : {});
    if (restore) this.restored(restore.target);
    this.network.activate();
    await this.runEpoch();
  }

  protected takeSnapshot(basePageHashes: Uint8Array | undefined): Promise<SnapshotDelta> {
    return this.saveCheckpoint(basePageHashes);
  }

  /** Free-running input is not logged: a corrupt-input fault hits the next mirrored packet. */
  protected override corruptNextInput(): void {
    if (this.role !== 'shadow') throw new QemuRequestError(`the primary ${this.id} takes its input from outside; corrupt a shadow's`);
    this.network.corruptNextInput();
  }

  /**
   * Runs for the current slice, then pauses; true when the guest powered off. A guest's first
   * epoch lasts until it has booted (its workload says "ready"), so that shadows cloned at that
   * barrier start from a serving guest rather than each finishing its own boot.
   */
  protected async runToBoundary(): Promise<boolean> {
    const booting = this.epoch === 1;
    await this.machine.unlessGone(this.cloning.catch(() => undefined));
    this.slicesRun += 1;
    this.freshClone = undefined;
    await this.machine.run();
    await this.machine.whileRunning(
      this.config.epochMs,
      (elapsedMs) => booting && elapsedMs < bootMs && !this.machine.serial.shows(readyLine),
    );
    // A clone taken of this VM mid-slice stops and resumes it: let it finish before the barrier.
    await this.machine.unlessGone(this.cloning.catch(() => undefined));
    await this.machine.pause();
    return this.machine.guestEnded;
  }

  /**
   * Free-running replicas print at their own pace (a clone's console starts at the clone): a
   * running digest of their output is not comparable; their answers are paired instead.
   */
  protected view(state: StateDigest): EpochView {
    return { digest: state, extra: {} };
  }

  /** A shadow's start: a clone of the primary at its barrier, reporting that epoch. */
  private async startAsClone(primaryOf: () => Promise<FreeRunner>): Promise<void> {
    const primary = await this.machine.unlessGone(primaryOf());
    // A placeholder: QEMU opens it inactive, the clone overwrites it with the primary's overlay.
    this.machine.createOverlay();
    await this.machine.launch({ incoming: true });
    this.cloneTimings = await this.machine.unlessGone(primary.cloneInto(this));
    this.epoch = primary.epoch;
    await this.report(0, 0, undefined);
  }

  /**
   * Copies this VM's guest into `target`, a VM whose QEMU waits with `-incoming defer` (clone.ts).
   * QEMU refuses to migrate a VM again before it has run since its last migration, so the second
   * clone taken at one barrier is copied from the first (same state: neither has run since).
   */
  private async cloneInto(target: FreeRunner): Promise<CloneTimings> {
    const socket = `${target.machine.ram.path}.migrate`;
    const clone = this.cloning
      .catch(() => undefined)
      .then(async () => {
        const fresh = this.freshClone;
        const source = fresh !== undefined && fresh.slicesRun === 0 && !fresh.machine.gone ? fresh : this;
        const timings = await cloneVm(source.machine.cloneEnd(), target.machine.cloneEnd(), socket);
        // The target's mirrored input starts once it holds its device state. Started at the clone
        // point instead, the packets of a running source's RAM stream (about 1 s) reached a QEMU
        // still waiting for its migration and were lost, the corrupted first request of
        // free-run.test with them, 3 runs in 8. Connections opened while the RAM streams are not
        // expected of the clone (net/hub.ts pairs only those it saw open).
        target.network.activate();
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
}
