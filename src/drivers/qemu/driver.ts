// The QEMU driver: real Linux guests behind the same capability interface as the wasm driver.
// One driver instance serves one computation; in lockstep mode it holds the computation's
// recordings (a new one after each rollback of the primary) and the snapshots taken on them. In
// free mode it holds the mirror hub that feeds the primary's network input to the shadows, and
// starts each shadow as a clone of the primary.
import { mkdirSync, rmSync } from 'node:fs';
import { freeLoopbackPort } from '../../free-port.js';
import type { Agreement, Capability, DiversityProfile, Driver, Endpoint, Vm, VmEvents, VmRequest } from '../types.js';
import { CheckpointRegistry } from './checkpoint-registry.js';
import { QemuRequestError } from './errors.js';
import { type GuestImage, guestImage } from './guest-build.js';
import type { NicSpec } from './launch.js';
import { MirrorHub } from './net/hub.js';
import { RuntimeDir } from './process.js';
import { parseProfile, qemuProfiles } from './profile.js';
import { Recordings } from './recordings.js';
import { fileStem, QemuVm, type ShadowingMode, type VmNetwork } from './vm.js';

export interface QemuDriverOptions {
  readonly mode?: ShadowingMode;
  /** Guest image directory (default: the `shadowvm guest build` output). */
  readonly imageDir?: string;
  /** Whether KVM boots here (from `detectAccel`); adds the KVM profile. */
  readonly kvm?: boolean;
  /** Workload rounds before the guest powers off (0 = forever). */
  readonly rounds?: number;
  /** More kernel parameters for the guest (e.g. shadowvm.size=N); they override `rounds`. */
  readonly kernelArgs?: readonly string[];
  /** Wall-clock length of an epoch (free mode; lockstep's first epoch). */
  readonly epochMs?: number;
}

/**
 * Lockstep VMs are one vCPU (replay needs the recorder's exact machine) and their inputs travel in
 * the record itself; free-running VMs get more vCPUs and corrupted mirrored input, but their
 * epochs are wall-clock slices with no budget to change.
 */
const CAPABILITIES: Readonly<Record<ShadowingMode, ReadonlySet<Capability>>> = {
  lockstep: new Set<Capability>(['checkpoint', 'pages', 'memory-limit', 'epoch-budget', 'bitflip']),
  free: new Set<Capability>(['checkpoint', 'pages', 'memory-limit', 'cpu-limit', 'bitflip', 'corrupt-input']),
};

export class QemuDriver implements Driver {
  readonly name = 'qemu';
  readonly mode: ShadowingMode;
  readonly agreement: Agreement;
  readonly capabilities: ReadonlySet<Capability>;
  private readonly image: GuestImage;
  private readonly runtime: RuntimeDir;
  private readonly checkpointDir: string;
  private readonly options: QemuDriverOptions;
  private readonly vms = new Set<QemuVm>();
  private readonly checkpoints = new CheckpointRegistry();
  private readonly recordings: Recordings | undefined;
  /** Free mode: the primary's network input, mirrored to the shadows. */
  private readonly hub: MirrorHub | undefined;
  private hostPort: number | undefined;
  /** Free mode: the primary, once it has reported an epoch (paused at its barrier: clonable). */
  private primary: { readonly profile: DiversityProfile; readonly ready: Promise<QemuVm> } | undefined;

  constructor(options: QemuDriverOptions = {}) {
    this.options = options;
    this.mode = options.mode ?? 'lockstep';
    this.agreement = this.mode === 'lockstep' ? 'exact' : 'drift';
    this.capabilities = CAPABILITIES[this.mode];
    this.image = guestImage(options.imageDir);
    this.runtime = RuntimeDir.create();
    this.checkpointDir = this.runtime.file('checkpoints');
    mkdirSync(this.checkpointDir, { mode: 0o700 });
    if (this.mode === 'lockstep') this.recordings = new Recordings(this.runtime);
    else this.hub = new MirrorHub();
  }

  /** Free mode: the host port (on 127.0.0.1) forwarded to the primary guest's web server. */
  async httpPort(): Promise<number> {
    this.hostPort ??= await freeLoopbackPort();
    return this.hostPort;
  }

  async endpoints(): Promise<readonly Endpoint[]> {
    if (this.mode !== 'free') return [];
    const url = `http://127.0.0.1:${await this.httpPort()}`;
    return [{ name: 'http', url, note: "the guest's HTTP server (port 80); requests are mirrored to the shadows" }];
  }

  /** The runtime directory holding every file of this driver's VMs (for leak checks). */
  get runtimePath(): string {
    return this.runtime.path;
  }

  profiles(): readonly DiversityProfile[] {
    const all = qemuProfiles(this.options.kvm ?? false);
    // Replay needs the recorder's exact machine: lockstep shadows cannot differ in hardware.
    return this.mode === 'lockstep' ? all.slice(0, 1) : all;
  }

  async createVm(request: VmRequest): Promise<Vm> {
    const recordings = this.recordings;
    if (recordings !== undefined && request.restore === undefined) {
      // A fresh primary starts the computation's first recording; fresh shadows follow it.
      if (request.role === 'primary') {
        if (recordings.latest !== undefined)
          throw new QemuRequestError('this lockstep computation already has a primary; restore it instead');
        recordings.open(0);
      } else if (recordings.latest === undefined) {
        throw new QemuRequestError('create the lockstep primary before its shadows');
      }
    }
    const free = this.hub ? await this.freeRunning(request) : undefined;
    const vm = new QemuVm({
      request: free ? { ...request, events: free.events } : request,
      image: this.image,
      runtime: this.runtime,
      checkpointDir: this.checkpointDir,
      checkpoints: this.checkpoints,
      mode: this.mode,
      ...(recordings ? { recordings, siblings: () => this.vms } : {}),
      kernelArgs: [`shadowvm.rounds=${this.options.rounds ?? 0}`, ...(this.options.kernelArgs ?? [])],
      epochMs: this.options.epochMs ?? 300,
      ...(free ? { network: free.network } : {}),
      ...(free?.cloneOf ? { cloneOf: free.cloneOf } : {}),
    });
    free?.bind(vm);
    this.vms.add(vm);
    return vm;
  }

  /**
   * A free-running VM's NIC and events. The primary's first report makes it clonable; a shadow
   * whose hardware matches the primary's starts as a clone of it (migration needs the same machine,
   * CPU model and accelerator), others boot on their own and see mirrored input from then on.
   * A restored shadow starts from the checkpoint's snapshot: that is exactly the state the
   * restored primary starts from, without waiting for the primary to be restored first.
   */
  private async freeRunning(request: VmRequest): Promise<{
    events: VmEvents;
    network: VmNetwork;
    cloneOf: (() => Promise<QemuVm>) | undefined;
    /** Tells the events which VM they belong to (the VM is created with them). */
    bind(vm: QemuVm): void;
  }> {
    const hub = this.hub as MirrorHub;
    const { id } = request;
    const stem = fileStem(id);
    const sockets = { inbound: this.runtime.file(`${stem}.net-in`), outbound: this.runtime.file(`${stem}.net-out`) };
    let nic: NicSpec;
    let cloneOf: (() => Promise<QemuVm>) | undefined;
    let clonable: Deferred<QemuVm> | undefined;
    const isPrimary = request.role === 'primary';
    if (isPrimary) {
      await hub.attachPrimary(id, sockets);
      nic = { role: 'primary', hostPort: await this.httpPort(), ...sockets };
      clonable = deferred<QemuVm>();
      this.primary = { profile: request.profile, ready: clonable.promise };
    } else {
      await hub.attachShadow(id, sockets);
      nic = { role: 'shadow', ...sockets };
      const primary = this.primary;
      if (request.restore === undefined && primary && sameHardware(primary.profile, request.profile)) cloneOf = () => primary.ready;
    }
    const { events } = request;
    let vm: QemuVm | undefined;
    const wrapped: VmEvents = {
      ...events,
      onEpoch: (report) => {
        if (vm) clonable?.resolve(vm);
        events.onEpoch(isPrimary ? report : { ...report, pairedOutputs: hub.takePaired(id) });
      },
      onGone: (end) => {
        clonable?.reject(new QemuRequestError(`primary ${id} ended before a shadow could be cloned from it`));
        hub.detach(id);
        events.onGone(end);
      },
    };
    return {
      events: wrapped,
      network: { nic, activate: () => hub.activate(id), corruptNextInput: () => hub.corruptNextInput(id) },
      cloneOf,
      bind: (created) => {
        vm = created;
      },
    };
  }

  async close(): Promise<void> {
    this.recordings?.fail('driver closed');
    await Promise.all([...this.vms].map((vm) => vm.kill('driver closed')));
    this.hub?.close();
    this.vms.clear();
    rmSync(this.checkpointDir, { recursive: true, force: true });
    this.runtime.remove();
  }
}

/** Clones need the primary's machine, CPU model and accelerator; TCG threading may differ. */
function sameHardware(a: DiversityProfile, b: DiversityProfile): boolean {
  const x = parseProfile(a);
  const y = parseProfile(b);
  return x.accel === y.accel && x.machine === y.machine && x.cpu === y.cpu;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting to clone: a primary that ends early is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
