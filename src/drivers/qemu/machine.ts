// One VM's machine: the QEMU process it runs now and the files that stay with the VM across its
// QEMUs (a replayer restarts, a restored primary moves from replaying to recording): guest RAM, a
// memory-backend-file on tmpfs read and flipped directly (file offset = guest physical address),
// the qcow2 overlay, the serial console and the QMP socket. What every role does through QEMU is
// here: launch and stop, QMP, RAM digests, snapshots, registers, the instruction count, CPU
// hotplug and the balloon.
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import type { PageImage } from '../../pages/digest.js';
import { SnapshotDeferredError } from '../snapshot-deferred.js';
import type { StateDigest } from '../types.js';
import type { CloneEnd } from './clone.js';
import { QemuProcessError, QemuRequestError, StateMismatchError, VmGoneError } from './errors.js';
import type { GuestImage } from './guest-build.js';
import { type LaunchSpec, type NicSpec, qemuArgs } from './launch.js';
import { QemuProcess, type RuntimeDir } from './process.js';
import type { QemuProfile } from './profile.js';
import { QmpClient } from './qmp.js';
import { pageSize, RamFile } from './ram.js';
import { SerialConsole } from './serial.js';

/** What a VM's machine is, whichever QEMU runs it. */
export interface MachineSpec {
  readonly id: string;
  readonly runtime: RuntimeDir;
  readonly image: GuestImage;
  readonly profile: QemuProfile;
  readonly memoryMiB: number;
  readonly maxCpus: number;
  readonly kernelArgs: readonly string[];
  readonly nic?: NicSpec;
}

/** How one QEMU of the machine starts: recording or replaying, from a snapshot, as a clone. */
export type Launch = Pick<LaunchSpec, 'rr' | 'loadvm' | 'incoming'>;

/** How long a snapshot job (a full RAM image written into the overlay, or removed) may take. */
const snapshotJobTimeoutMs = 180_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How often a guest running to an instruction count has its count read (a QMP round trip each). */
const countReadMs = 10;

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

/** VM ids name computations and generations ("c1/primary#2"); file names must stay flat. */
export const fileStem = (id: string) => id.replace(/[^A-Za-z0-9_.-]/g, '_');

export class Machine {
  readonly id: string;
  readonly ram: RamFile;
  readonly serial: SerialConsole;
  readonly overlay: string;
  readonly memoryMiB: number;
  readonly maxCpus: number;
  private readonly base: Omit<LaunchSpec, keyof Launch>;
  private readonly runtime: RuntimeDir;
  private readonly onExit: (message: string) => void;
  private qemu: QemuProcess | undefined;
  private client: QmpClient | undefined;
  private launched: LaunchSpec | undefined;
  private stoppedAt = 0;
  private plugged = 1;
  private poweredOff = false;
  private removed = false;
  /** Rejects with VmGoneError once the VM is gone (see `unlessGone`). */
  private readonly departure: Promise<never>;
  private depart: (error: Error) => void = () => undefined;

  /** `onExit` hears of a QEMU that exits without being stopped (why, from its last words). */
  constructor(spec: MachineSpec, onExit: (message: string) => void) {
    this.id = spec.id;
    this.runtime = spec.runtime;
    this.onExit = onExit;
    this.memoryMiB = spec.memoryMiB;
    this.maxCpus = spec.maxCpus;
    const file = (suffix: string) => spec.runtime.file(`${fileStem(spec.id)}.${suffix}`);
    this.ram = new RamFile(file('ram'));
    this.serial = new SerialConsole(file('serial'));
    this.overlay = file('qcow2');
    this.base = {
      image: spec.image,
      profile: spec.profile,
      memoryMiB: spec.memoryMiB,
      maxCpus: spec.maxCpus,
      ramFile: this.ram.path,
      qmpSocket: file('qmp'),
      serialFile: this.serial.path,
      overlay: this.overlay,
      kernelArgs: spec.kernelArgs,
      ...(spec.nic ? { nic: spec.nic } : {}),
    };
    this.departure = new Promise<never>((_, reject) => {
      this.depart = reject;
    });
    this.departure.catch(() => undefined);
  }

  /** Instruction count where the guest last stopped (0 without record/replay). */
  get icount(): number {
    return this.stoppedAt;
  }

  get cpus(): number {
    return this.plugged;
  }

  /** The guest asked to power off (QEMU's SHUTDOWN event). */
  get guestEnded(): boolean {
    return this.poweredOff;
  }

  /** A QEMU runs (between `launch` and `stop`). */
  get running(): boolean {
    return this.qemu !== undefined;
  }

  /** The VM is gone: its QEMU ended for good and no other may start. */
  get gone(): boolean {
    return this.removed;
  }

  get qmp(): QmpClient {
    if (this.removed) throw new VmGoneError(this.id);
    if (this.client === undefined) throw new QemuProcessError(`VM ${this.id} is not running`);
    return this.client;
  }

  /**
   * `wait`, unless the VM goes first: then VmGoneError. For what waits on something other than
   * this VM's own QEMU (another VM, a recording), which would not settle when this VM goes.
   */
  unlessGone<T>(wait: Promise<T>): Promise<T> {
    // The departure first: when both have settled, a gone VM does not carry on.
    return Promise.race([this.departure, wait]);
  }

  // ---- disk ---------------------------------------------------------------------------------------

  /** A fresh overlay over the image's base disk (a boot). */
  createOverlay(): void {
    this.ensureHere();
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', this.base.image.disk, '-F', 'qcow2', this.overlay]);
  }

  /** The overlay becomes a copy of `disk` (one holding the snapshot the next QEMU loads). */
  loadDisk(disk: string): void {
    this.ensureHere();
    copyFileSync(disk, this.overlay);
  }

  /** Copies the overlay to `disk`; a paused QEMU has flushed it, so the copy is consistent. */
  saveDisk(disk: string): void {
    copyFileSync(this.overlay, disk);
  }

  // ---- QEMU process -------------------------------------------------------------------------------

  async launch(how: Launch): Promise<void> {
    this.ensureHere();
    const spec: LaunchSpec = { ...this.base, ...how };
    rmSync(spec.ramFile, { force: true });
    const qemu = QemuProcess.start(this.runtime, fileStem(this.id), qemuArgs(spec));
    this.qemu = qemu;
    this.launched = spec;
    const exited = new AbortController();
    void qemu.exited.then((end) => {
      exited.abort();
      if (this.qemu === qemu) this.onExit(`QEMU exited unexpectedly: ${lastLines(end.stderr)}`);
    });
    let client: QmpClient;
    try {
      client = await QmpClient.connect(spec.qmpSocket, { signal: exited.signal });
    } catch (error) {
      this.ensureHere();
      const end = await Promise.race([qemu.exited, sleep(2000).then(() => undefined)]);
      if (end === undefined) throw error;
      throw new QemuProcessError(`QEMU for ${this.id} did not start: ${end.stderr.split('\n').pop() ?? 'no message'}`);
    }
    if (this.qemu !== qemu) {
      // Stopped while it started: the connection goes with that QEMU.
      client.close();
      this.ensureHere();
      throw new QemuProcessError(`QEMU for ${this.id} was stopped while it started`);
    }
    this.client = client;
    client.onEvent((event) => {
      if (event.event === 'SHUTDOWN') this.poweredOff = true;
    });
    this.stoppedAt = await this.readIcount();
  }

  /** Ends the current QEMU (a new one may follow); its RAM, console and socket files go with it. */
  async stop(): Promise<void> {
    const qemu = this.qemu;
    this.qemu = undefined;
    this.client?.close();
    this.client = undefined;
    this.launched = undefined;
    await qemu?.kill();
    for (const path of [this.base.ramFile, this.base.serialFile, this.base.qmpSocket]) rmSync(path, { force: true });
    this.serial.restart();
  }

  /** The VM is gone (at once: what waits on it fails now): its QEMU ends and its overlay goes too. */
  async remove(): Promise<void> {
    if (!this.removed) {
      this.removed = true;
      this.depart(new VmGoneError(this.id));
    }
    await this.stop();
    rmSync(this.overlay, { force: true });
  }

  /**
   * Moves the guest into a new QEMU started `how`, through snapshot `tag`: QEMU cannot switch
   * from replaying to recording, so the state leaves the old QEMU as a snapshot the new one loads.
   */
  async relaunch(tag: string, how: Omit<Launch, 'loadvm'>): Promise<void> {
    await this.saveSnapshot(tag);
    const kept = this.runtime.file(`${fileStem(this.id)}-${tag}.qcow2`);
    this.saveDisk(kept);
    await this.stop();
    this.loadDisk(kept);
    rmSync(kept, { force: true });
    await this.launch({ ...how, loadvm: tag });
  }

  // ---- running ------------------------------------------------------------------------------------

  async run(): Promise<void> {
    await this.qmp.execute('cont');
  }

  async pause(): Promise<void> {
    await this.qmp.execute('stop');
    this.stoppedAt = await this.readIcount();
  }

  /** The guest stopped on its own (a replay break), at `icount`. */
  markStopped(icount: number): void {
    this.stoppedAt = icount;
  }

  /**
   * Waits while the guest runs: `ms`, and on while `longer(elapsed ms)` holds; no longer once it
   * powered off or its QEMU is gone.
   */
  async whileRunning(ms: number, longer: (elapsedMs: number) => boolean = () => false): Promise<void> {
    const start = performance.now();
    const going = () => performance.now() < start + ms || longer(performance.now() - start);
    while (this.running && !this.poweredOff && going()) await sleep(Math.min(20, ms));
  }

  /** Runs the guest for `ms` and pauses it; true when it powered off. */
  async runFor(ms: number): Promise<boolean> {
    await this.run();
    await this.whileRunning(ms);
    await this.pause();
    return this.poweredOff;
  }

  /**
   * Runs a recording guest until its instruction count reaches `icount` (or `ms` passed) and pauses
   * it; true when it powered off. QEMU breaks at a count only when replaying, so the count is read
   * as the guest runs: a slice aimed from the last epoch's rate missed its budget 15-fold (1.9 G
   * instructions for 120 M) when the guest's rate swung between boot code and its idle=poll loop.
   */
  async runToCount(icount: number, ms: number): Promise<boolean> {
    await this.run();
    const until = performance.now() + ms;
    while (this.running && !this.poweredOff && performance.now() < until && (await this.readIcount()) < icount) await sleep(countReadMs);
    await this.pause();
    return this.poweredOff;
  }

  /** QEMU's instruction count now (0 without record/replay). */
  async readIcount(): Promise<number> {
    if (this.launched?.rr === undefined) return 0;
    return (await this.qmp.execute<ReplayInfo>('query-replay')).icount;
  }

  // ---- state --------------------------------------------------------------------------------------

  /** Guest RAM read into a page image, to digest or to copy pages from. */
  ramImage(): PageImage {
    return this.ram.readImage();
  }

  /** Page digests and CPU registers (the outputs are the VM's to add). */
  async state(): Promise<StateDigest> {
    const pageHashes = this.ramImage().digest();
    const registers = parseRegisters(await this.qmp.hmp('info registers'));
    return { pageSize, pageHashes, registers, outputs: {} };
  }

  /** After a snapshot load the RAM must equal the state it was taken from, page for page. */
  checkRam(pageHashes: Uint8Array, what: string): void {
    if (Buffer.compare(this.ramImage().digest(), pageHashes) !== 0) {
      throw new StateMismatchError(`restore of ${this.id} to ${what} did not reproduce its memory`);
    }
  }

  /** The QEMU side of a clone (clone.ts). */
  cloneEnd(): CloneEnd {
    return { qmp: this.qmp, ramFile: this.ram.path, overlay: this.overlay };
  }

  // ---- snapshots ----------------------------------------------------------------------------------

  async saveSnapshot(tag: string): Promise<void> {
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
  async deleteSnapshot(tag: string): Promise<void> {
    const error = await this.snapshotJob('snapshot-delete', tag);
    if (error !== undefined) throw new QemuRequestError(`removing snapshot ${tag} of ${this.id} failed: ${error}`);
  }

  /** A migration leaves the source's disks inactive until it runs again; a snapshot needs them. */
  async reactivateDisks(): Promise<void> {
    const qmp = this.qmp;
    if ((await qmp.execute<{ status: string }>('query-status')).status !== 'postmigrate') return;
    await qmp.execute('cont');
    await qmp.execute('stop');
  }

  /** Runs a snapshot job on the overlay to its end; returns QEMU's error, if any. */
  private async snapshotJob(command: 'snapshot-save' | 'snapshot-delete', tag: string): Promise<string | undefined> {
    const qmp = this.qmp;
    const jobId = `${command}-${tag}`;
    const done = qmp.waitEvent('JOB_STATUS_CHANGE', snapshotJobTimeoutMs, (e) => e.data.id === jobId && e.data.status === 'concluded');
    await qmp.execute(command, { 'job-id': jobId, tag, ...(command === 'snapshot-save' ? { vmstate: 'ov' } : {}), devices: ['ov'] });
    await done;
    const jobs = await qmp.execute<{ id: string; error?: string }[]>('query-jobs');
    await qmp.execute('job-dismiss', { id: jobId });
    return jobs.find((job) => job.id === jobId)?.error;
  }

  // ---- resources ----------------------------------------------------------------------------------

  /** Asks the guest's balloon for `bytes` of RAM (at most the machine's own). */
  async balloon(bytes: number): Promise<void> {
    await this.qmp.execute('balloon', { value: Math.min(bytes, this.memoryMiB * 2 ** 20) });
  }

  /** Plugs vCPUs up to `share` (rounded up, at most the machine's maximum); never unplugs. */
  async plugCpus(share: number): Promise<void> {
    const wanted = Math.min(Math.ceil(share), this.maxCpus);
    if (wanted <= this.plugged) return;
    const qmp = this.qmp;
    type Slot = { type: string; props: Record<string, number>; 'qom-path'?: string };
    const slots = await qmp.execute<Slot[]>('query-hotpluggable-cpus');
    for (const slot of slots.filter((s) => s['qom-path'] === undefined)) {
      if (this.plugged >= wanted) break;
      await qmp.execute('device_add', { driver: slot.type, id: `cpu${this.plugged}`, ...slot.props });
      this.plugged += 1;
    }
  }

  /** Nothing new starts for a VM that is gone (no QEMU, no file nobody would remove). */
  private ensureHere(): void {
    if (this.removed) throw new VmGoneError(this.id);
  }
}

/** QEMU often says why on the lines before its last one (e.g. which device state failed to load). */
function lastLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-3)
    .join(' | ');
}
