// The QEMU driver: real Linux guests behind the same capability interface as the wasm driver. One
// driver instance serves one computation, in one mode: lockstep (lockstep-driver.ts: the primary
// records, shadows replay) or free-running (free-driver.ts: shadows are clones that see mirrored
// input). What both modes share is here: the guest image, the runtime directory, the snapshots
// taken for checkpoints, the profiles, the VMs and the close.
import { mkdirSync, rmSync } from 'node:fs';
import type { Agreement, Capability, DiversityProfile, Driver, Endpoint, VmRequest } from '../types.js';
import { CheckpointRegistry } from './checkpoint-registry.js';
import { type GuestImage, guestImage } from './guest-build.js';
import { RuntimeDir } from './process.js';
import { qemuProfiles } from './profile.js';
import type { QemuVm, QemuVmConfig } from './vm.js';

export type ShadowingMode = 'lockstep' | 'free';

export interface QemuDriverOptions {
  /** Guest image directory (default: the `shadowvm guest build` output). */
  readonly imageDir?: string;
  /** Whether KVM boots here (from `detectAccel`); adds the KVM profile. */
  readonly kvm?: boolean;
  /** Workload rounds before the guest powers off (0 = forever). */
  readonly rounds?: number;
  /** More kernel parameters for the guest (e.g. shadowvm.size=N); they override `rounds`. */
  readonly kernelArgs?: readonly string[];
  /** Wall-clock length of an epoch (free mode; lockstep until a VM has an epoch budget). */
  readonly epochMs?: number;
}

/**
 * Lockstep VMs are one vCPU (replay needs the recorder's exact machine) and their inputs travel in
 * the record itself; free-running VMs get more vCPUs and corrupted mirrored input, but their
 * epochs are wall-clock slices with no budget to change.
 */
export const CAPABILITIES: Readonly<Record<ShadowingMode, ReadonlySet<Capability>>> = {
  lockstep: new Set<Capability>(['checkpoint', 'pages', 'memory-limit', 'epoch-budget', 'bitflip']),
  free: new Set<Capability>(['checkpoint', 'pages', 'memory-limit', 'cpu-limit', 'bitflip', 'corrupt-input']),
};

export abstract class QemuDriver<V extends QemuVm = QemuVm> implements Driver {
  readonly name = 'qemu';
  abstract readonly agreement: Agreement;
  abstract readonly capabilities: ReadonlySet<Capability>;
  protected readonly runtime: RuntimeDir;
  protected readonly vms = new Set<V>();
  private readonly options: QemuDriverOptions;
  private readonly image: GuestImage;
  private readonly checkpointDir: string;
  private readonly checkpoints = new CheckpointRegistry();

  constructor(options: QemuDriverOptions = {}) {
    this.options = options;
    this.image = guestImage(options.imageDir);
    this.runtime = RuntimeDir.create();
    this.checkpointDir = this.runtime.file('checkpoints');
    mkdirSync(this.checkpointDir, { mode: 0o700 });
  }

  /** The runtime directory holding every file of this driver's VMs (for leak checks). */
  get runtimePath(): string {
    return this.runtime.path;
  }

  profiles(): readonly DiversityProfile[] {
    return qemuProfiles(this.options.kvm ?? false);
  }

  abstract endpoints(): Promise<readonly Endpoint[]>;

  abstract createVm(request: VmRequest): Promise<V>;

  async close(): Promise<void> {
    await Promise.all([...this.vms].map((vm) => vm.kill('driver closed')));
    this.vms.clear();
    this.release();
    rmSync(this.checkpointDir, { recursive: true, force: true });
    this.runtime.remove();
  }

  /** Frees what the mode holds for the computation, once its VMs are gone. */
  protected abstract release(): void;

  /** What every VM of this driver is made of, for `request`. */
  protected vmConfig(request: VmRequest): QemuVmConfig {
    return {
      request,
      driver: this,
      image: this.image,
      runtime: this.runtime,
      checkpointDir: this.checkpointDir,
      checkpoints: this.checkpoints,
      kernelArgs: [`shadowvm.rounds=${this.options.rounds ?? 0}`, ...(this.options.kernelArgs ?? [])],
      epochMs: this.options.epochMs ?? 300,
    };
  }

  protected track(vm: V): V {
    this.vms.add(vm);
    return vm;
  }
}
