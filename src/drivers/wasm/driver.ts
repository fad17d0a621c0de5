// The embedded default driver: each VM is a WASI guest in a worker thread (or a worker of a child
// process with other V8 wasm tiers), all created from one instrumented module.

import { closeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type { EpochBounds } from '../spec.js';
import type { Capability, DiversityProfile, Driver, Endpoint, Vm, VmRequest } from '../types.js';
import { loadInstrumented } from './instrument/cache.js';
import { WasmVm } from './vm.js';

export interface WasmImage {
  /** The guest module as built (not yet instrumented). */
  readonly wasm: Uint8Array;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly inputDir?: string;
  /** The primary's stdin: an open file descriptor of this process, or none. */
  readonly stdinFd?: number;
  /** The driver opened `stdinFd` itself and closes it when it closes. */
  readonly closeStdin?: boolean;
  readonly epochs: EpochBounds;
  readonly cacheDir?: string;
}

interface WasmProfile extends DiversityProfile {
  /** V8 flags of a separate replica process; absent for a worker thread in the manager. */
  readonly v8Flags?: readonly string[];
}

/**
 * Replicas in this process compile straight to TurboFan. With V8's default tiering a guest's
 * long-running function can stay in baseline (Liftoff) code for its whole run — V8 has no on-stack
 * replacement for wasm — which made run times vary up to 5× between identical replicas. Set when
 * the first driver opens, not on import: importing a module must not change the process.
 */
function compileWithTurbofan(): void {
  setFlagsFromString('--no-liftoff');
}

/** What the wasm driver offers beyond the core (no CPU share: a replica is one thread). */
const WASM_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>([
  'checkpoint',
  'pages',
  'memory-limit',
  'epoch-budget',
  'bitflip',
  'corrupt-input',
]);

export const WASM_PROFILES: readonly WasmProfile[] = [
  { name: 'thread/v8', dimensions: { host: 'worker-thread', engine: 'v8', tiers: 'turbofan' } },
  {
    name: 'process/liftoff',
    dimensions: { host: 'child-process', engine: 'v8', tiers: 'liftoff-only' },
    v8Flags: ['--liftoff', '--no-wasm-tier-up'],
  },
  {
    name: 'process/turbofan',
    dimensions: { host: 'child-process', engine: 'v8', tiers: 'turbofan-only' },
    v8Flags: ['--no-liftoff'],
  },
];

export class WasmDriver implements Driver {
  readonly name = 'wasm';
  readonly agreement = 'exact';
  readonly capabilities = WASM_CAPABILITIES;
  /** The VMs the driver made that may still run: its close ends them. */
  private vms: WasmVm[] = [];

  private constructor(
    private readonly image: WasmImage,
    private readonly module: WebAssembly.Module,
    private readonly bytes: Uint8Array,
    private readonly globals: readonly string[],
    readonly moduleHash: string,
  ) {}

  /** Validates and instruments the guest (cached by module hash). Throws typed user errors. */
  static async open(image: WasmImage): Promise<WasmDriver> {
    compileWithTurbofan();
    const instrumented = await loadInstrumented(image.wasm, image.cacheDir);
    const module = await WebAssembly.compile(instrumented.bytes);
    return new WasmDriver(image, module, instrumented.bytes, instrumented.globals, instrumented.moduleHash);
  }

  profiles(): readonly DiversityProfile[] {
    return WASM_PROFILES;
  }

  async endpoints(): Promise<readonly Endpoint[]> {
    return [];
  }

  async createVm(request: VmRequest): Promise<Vm> {
    const profile = WASM_PROFILES.find((p) => p.name === request.profile.name);
    if (!profile) {
      const names = WASM_PROFILES.map((p) => p.name).join(', ');
      throw new Error(`unknown wasm profile ${request.profile.name}; use one of ${names}`);
    }
    const replay = request.restore ? [...request.restore.log.read(0)] : [];
    const live = request.role === 'primary' && this.image.stdinFd !== undefined;
    const vm = new WasmVm({
      driver: this,
      id: request.id,
      role: request.role,
      profile,
      events: request.events,
      ...(profile.v8Flags ? { v8Flags: profile.v8Flags } : {}),
      ...(request.restore?.target ? { restoreTarget: request.restore.target } : {}),
      init: {
        vmId: request.id,
        role: request.role,
        module: profile.v8Flags ? this.bytes : this.module,
        globals: this.globals,
        args: this.image.args,
        env: this.image.env,
        ...(this.image.inputDir ? { inputDir: this.image.inputDir } : {}),
        stdin: live ? { kind: 'fd', fd: this.image.stdinFd ?? 0 } : { kind: 'none' },
        epochs: this.image.epochs,
        limits: request.limits,
        replay,
        freeRunUntil: request.restore?.catchUpTo ?? 0,
        faults: [],
      },
    });
    // Gone VMs are let go as new ones come, so a long computation's rollbacks do not pile up.
    this.vms = [...this.vms.filter((made) => !made.ended), vm];
    return vm;
  }

  /** Ends the VMs still running (a worker or a child process each), then lets go of the stdin it opened. */
  async close(): Promise<void> {
    const running = this.vms.filter((vm) => !vm.ended);
    this.vms = [];
    await Promise.all(running.map((vm) => vm.kill('driver closed')));
    if (this.image.closeStdin && this.image.stdinFd !== undefined) closeSync(this.image.stdinFd);
  }
}
