// The QEMU driver: real Linux guests behind the same capability interface as the wasm driver.
// One driver instance serves one computation; in lockstep mode it holds the computation's
// recordings (a new one after each rollback of the primary) and the snapshots taken on them.
import { mkdirSync, rmSync } from 'node:fs';
import type { Agreement, DiversityProfile, Driver, Vm, VmRequest } from '../types.js';
import { QemuRequestError } from './errors.js';
import { guestImage, type GuestImage } from './guest-build.js';
import { RuntimeDir } from './process.js';
import { qemuProfiles } from './profile.js';
import { CheckpointRegistry, Generations } from './lockstep.js';
import { QemuVm, type ShadowingMode } from './vm.js';

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

export class QemuDriver implements Driver {
  readonly name = 'qemu';
  readonly mode: ShadowingMode;
  readonly agreement: Agreement;
  private readonly image: GuestImage;
  private readonly runtime: RuntimeDir;
  private readonly checkpointDir: string;
  private readonly options: QemuDriverOptions;
  private readonly vms = new Set<QemuVm>();
  private readonly checkpoints = new CheckpointRegistry();
  private readonly generations: Generations | undefined;

  constructor(options: QemuDriverOptions = {}) {
    this.options = options;
    this.mode = options.mode ?? 'lockstep';
    this.agreement = this.mode === 'lockstep' ? 'exact' : 'drift';
    this.image = guestImage(options.imageDir);
    this.runtime = RuntimeDir.create();
    this.checkpointDir = this.runtime.file('checkpoints');
    mkdirSync(this.checkpointDir, { mode: 0o700 });
    if (this.mode === 'lockstep') this.generations = new Generations(this.runtime);
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
    const generations = this.generations;
    if (generations !== undefined && request.restore === undefined) {
      // A fresh primary starts the computation's first recording; fresh shadows follow it.
      if (request.role === 'primary') {
        if (generations.latest !== undefined) throw new QemuRequestError('this lockstep computation already has a primary; restore it instead');
        generations.open(0);
      } else if (generations.latest === undefined) {
        throw new QemuRequestError('create the lockstep primary before its shadows');
      }
    }
    const vm = new QemuVm({
      request,
      image: this.image,
      runtime: this.runtime,
      checkpointDir: this.checkpointDir,
      checkpoints: this.checkpoints,
      mode: this.mode,
      ...(generations ? { generations } : {}),
      kernelArgs: [`shadowvm.rounds=${this.options.rounds ?? 0}`, ...(this.options.kernelArgs ?? [])],
      epochMs: this.options.epochMs ?? 300,
    });
    this.vms.add(vm);
    return vm;
  }

  async close(): Promise<void> {
    this.generations?.fail('driver closed');
    await Promise.all([...this.vms].map((vm) => vm.kill('driver closed')));
    this.vms.clear();
    rmSync(this.checkpointDir, { recursive: true, force: true });
    this.runtime.remove();
  }
}
