// The driver contract: what every driver (wasm workers, QEMU over QMP, the in-memory fake of the
// tests, a remote agent) implements, as small capabilities. Everything above src/drivers talks to
// VMs only through these types and src/drivers/open.ts, so a driver can be swapped without the
// loop, sync, difflog or analysis knowing which one runs.
//
// Every driver implements the core of a Vm: lifecycle, epochs, digests in its reports, the input
// feed, and its ends. The optional capabilities below are declared in `Driver.capabilities`; a VM
// of a driver that lacks one throws CapabilityMissingError from the method (never a silent
// no-op), and a computation that would need one is refused before it starts (capabilities.ts).
//
// Promises the contract makes (src/drivers/contract.ts tests each of them on every driver):
// - reports arrive in epoch order (1, 2, 3… from a fresh start; from the restored epoch on for a
//   restored VM), one per epoch, and none after the report that carries `end`;
// - `onGone` comes exactly once, last, whether the guest ended, the host failed, or `kill` ran;
// - a primary's input records have consecutive seqs, continuing the log it was restored from;
// - two replicas of one image fed the same inputs report equal digests at every epoch, when the
//   driver's agreement is `exact`. A `drift` driver's replicas run free and differ benignly, so
//   their digests agree only in shape (page size and page count), they may end at other epochs,
//   and a bit flipped in one still makes its page differ (and shows in readPages);
// - a restored VM checks its state (every page at least) against the target's digest: equal, it
//   says so (onRestored) and runs on; different, it ends (onGone, an error) and does not run on;
// - `kill` is idempotent, and every promise a Vm method returned settles, at the latest when the
//   VM is gone: no request outlives its VM;
// - a driver's `close` ends its VMs still running as `kill` does (onGone once), and leaves those
//   already gone alone.

/** Which side of the comparison a VM is on. Only the primary touches the outside world. */
export type Role = 'primary' | 'shadow';

/**
 * How a replica differs from the others on purpose (engine, tier, host, CPU model…), so that a
 * divergence can be attributed to a configuration rather than to the computation.
 */
export interface DiversityProfile {
  /** Short stable name, e.g. "worker/v8-default" or "process/liftoff-only". */
  readonly name: string;
  /** Each dimension the profile sets, e.g. { host: "child-process", tier: "liftoff" }. */
  readonly dimensions: Readonly<Record<string, string>>;
}

/** Per-page digests plus everything else a replica's state is compared on at an epoch. */
export interface StateDigest {
  /** Bytes per page of `pageHashes`: the driver's own (4096 for wasm and QEMU); nothing above assumes one. */
  readonly pageSize: number;
  /** 16 bytes per page, page i at [16 i, 16 i + 16). Length / 16 = number of pages in memory. */
  readonly pageHashes: Uint8Array;
  /** CPU registers or wasm globals, name → value (hex or decimal text, compared as strings). */
  readonly registers: Readonly<Record<string, string>>;
  /** Running digest (hex) of every byte the VM has output so far, per stream name. */
  readonly outputs: Readonly<Record<string, string>>;
}

/** Counters a driver measures for one VM over one epoch; fed to the analysis engine. */
export interface EpochMetrics {
  /** Guest events counted in the epoch (instrumented counters, or instructions under QEMU). */
  readonly instructions: number;
  /** Wall time spent running the guest in this epoch, excluding the barrier wait. */
  readonly runMs: number;
  /** Time spent computing the digest at the end of the epoch. */
  readonly digestMs: number;
  /** Guest memory in use, in bytes. */
  readonly memoryBytes: number;
  /** Syscalls (wasm) or I/O exits (QEMU) in the epoch. */
  readonly syscalls: number;
  /** Anything else the driver or guest reports, by name. */
  readonly extra?: Readonly<Record<string, number>>;
}

/** Bytes a VM wrote to an output stream during an epoch (stdout, stderr, a file, a NIC…). */
export interface OutputChunk {
  readonly stream: string;
  readonly bytes: Uint8Array;
}

/** How a VM ended. A guest's trap, OOM or runaway is a clean end, never a manager crash. */
export type VmEnd =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'trap'; readonly message: string }
  | { readonly kind: 'oom'; readonly message: string }
  | { readonly kind: 'runaway'; readonly message: string }
  | { readonly kind: 'killed'; readonly message: string }
  | { readonly kind: 'error'; readonly message: string };

/** What a VM reports when it reaches the end of epoch `epoch` and pauses there. */
export interface EpochReport {
  readonly epoch: number;
  readonly digest: StateDigest;
  readonly metrics: EpochMetrics;
  readonly outputs: readonly OutputChunk[];
  /** Present when the guest ended during this epoch: the last epoch of the VM. */
  readonly end?: VmEnd;
  /**
   * Drift drivers only (shadows): outputs this shadow produced during the epoch for an input the
   * primary also answered (e.g. a mirrored request), paired with the primary's answer to it.
   */
  readonly pairedOutputs?: PairedOutputs;
}

/** A shadow's answers compared with the primary's answers to the same inputs, over one epoch. */
export interface PairedOutputs {
  readonly compared: number;
  readonly differing: number;
}

/**
 * One nondeterministic input the primary received, in the order it received it. Opaque to the
 * layers above the driver: they store it, forward it to shadows, and may corrupt it for tests.
 */
export interface InputRecord {
  /** Position in the computation's input log, from 0. */
  readonly seq: number;
  /** Epoch of the primary during which the input was taken. */
  readonly epoch: number;
  /** What kind of input (driver-defined: "fd_read", "clock", "random", "rr-chunk"…). */
  readonly kind: string;
  /** The input's bytes as the driver encodes them. */
  readonly payload: Uint8Array;
}

/** A shadow asked for something the primary did not do at that point: a divergence, not a crash. */
export interface InputMismatch {
  readonly epoch: number;
  readonly expected: string;
  readonly got: string;
}

/** How the layers above hear from a VM. Calls arrive in the order the VM produced them. */
export interface VmEvents {
  onEpoch(report: EpochReport): void;
  /** Only the primary records inputs. */
  onInput(record: InputRecord): void;
  onInputMismatch(mismatch: InputMismatch): void;
  /**
   * A VM restored to a checkpoint reached it and its state equals the checkpoint's digest (once,
   * before any report of a later epoch). A state that differs ends the VM instead (onGone).
   */
  onRestored(epoch: number): void;
  /** The VM is gone for good (after its final epoch report, or on a host-side failure). */
  onGone(end: VmEnd): void;
}

// ---- capabilities -------------------------------------------------------------------------------

/**
 * What a driver may or may not offer beyond the core. `checkpoint`: `snapshot()` at a barrier and
 * restores to its result, by whatever means (without it a VM can only be restored from its initial
 * state with the input log); `pages`:
 * `readPages()` (the differential log's page deltas); `memory-limit`, `cpu-limit`, `epoch-budget`:
 * `adjust()` of that limit at run time; `bitflip`, `corrupt-input`: those faults of `inject()`.
 */
export const CAPABILITIES = ['checkpoint', 'pages', 'memory-limit', 'cpu-limit', 'epoch-budget', 'bitflip', 'corrupt-input'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface Lifecycle {
  /** Starts the VM; it runs until the end of epoch 1 and pauses there. */
  start(): Promise<void>;
  /** Ends the VM and frees everything it holds (worker, process, files). Idempotent. */
  kill(reason: string): Promise<void>;
}

export interface EpochStepper {
  /** Lets a VM paused at the end of an epoch run on to the end of the next one. */
  resume(): void;
}

export interface PageReader {
  /** Reads whole pages while the VM is paused at an epoch boundary. */
  readPages(pages: readonly number[]): Promise<Uint8Array[]>;
}

/** A VM image at an epoch: only the pages that changed since `base` (content-addressed above). */
export interface SnapshotDelta {
  readonly epoch: number;
  readonly pageSize: number;
  readonly pageCount: number;
  readonly changed: ReadonlyMap<number, Uint8Array>;
  readonly registers: Readonly<Record<string, string>>;
  /** Driver-specific state that must travel with the checkpoint (e.g. a QEMU snapshot tag). */
  readonly driverState: Readonly<Record<string, string>>;
}

/** A checkpoint as the driver needs it to restore: where it is, and how to check it was reached. */
export interface RestoreTarget {
  readonly epoch: number;
  readonly digest: StateDigest;
  readonly driverState: Readonly<Record<string, string>>;
  /** Full page contents at the checkpoint, read lazily from the checkpoint store. */
  readPage(page: number): Uint8Array;
}

/** Reads the computation's input log, in order, from any position. */
export interface InputLogReader {
  /** Records with seq >= from, in order; ends at the end of the log as it is now. */
  read(from: number): Iterable<InputRecord>;
  /** Number of records logged so far. */
  readonly length: number;
}

export interface Snapshotter {
  /** Captures the pages that differ from `basePageHashes` (all pages when absent). */
  snapshot(basePageHashes?: Uint8Array): Promise<SnapshotDelta>;
}

export interface InputPort {
  /** Delivers one of the primary's recorded inputs to a shadow, in seq order. */
  feed(record: InputRecord): void;
  /** The primary will record no more inputs: a shadow that asks for one has diverged. */
  endOfInput(): void;
}

export interface ResourceLimits {
  /** Upper bound of guest memory in bytes; growth beyond it fails like an out-of-memory. */
  readonly memoryBytes?: number;
  /** Share of a CPU, 0 < share ≤ number of cores (QEMU: vCPUs; wasm: informational). */
  readonly cpuShare?: number;
  /** Guest events per epoch (the epoch length). */
  readonly epochBudget?: number;
}

export interface Resources {
  limits(): ResourceLimits;
  /** Changes limits at run time; takes effect at the VM's next epoch boundary. */
  adjust(change: ResourceLimits): Promise<ResourceLimits>;
}

/** Faults a test or a demo injects to prove detection, always at an epoch boundary. */
export type Fault =
  | { readonly kind: 'bitflip'; readonly address: number; readonly bit: number }
  | { readonly kind: 'corrupt-input'; readonly seq: number };

export interface Injector {
  inject(fault: Fault): Promise<void>;
}

/** A running VM: all capabilities of one replica. */
export interface Vm extends Lifecycle, EpochStepper, PageReader, Snapshotter, InputPort, Resources, Injector {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
}

/** What a driver needs to create one replica of a computation. */
export interface VmRequest {
  readonly id: string;
  readonly role: Role;
  readonly profile: DiversityProfile;
  readonly events: VmEvents;
  readonly limits: ResourceLimits;
  /**
   * Set to restore a VM to a checkpoint (rollback of the primary, fork of a shadow): the VM
   * reaches `target.epoch`, checks its state against `target.digest`, and then continues. Inputs
   * come from `log` until it is exhausted; then a primary reads the outside world again.
   */
  readonly restore?: {
    readonly target: RestoreTarget | null;
    readonly log: InputLogReader;
    /** The VM does not pause at epochs up to this one (it reports them): it is catching up. */
    readonly catchUpTo: number;
  };
}

/**
 * How replicas of a driver compare. `exact`: replicas are deterministic (wasm, QEMU lockstep), so
 * any difference in state or output is a fault and goes to the vote. `drift`: replicas run free
 * beside each other (QEMU COLO-style), so they differ benignly all the time; differences become
 * features the analysis engine learns, and only a score over the policy's threshold acts.
 */
export type Agreement = 'exact' | 'drift';

/** Where the outside world reaches a computation's primary (e.g. the guest's HTTP server). */
export interface Endpoint {
  readonly name: string;
  readonly url: string;
  /** One line for people: what happens to what arrives there. */
  readonly note: string;
}

/** A hypervisor: creates VMs of one computation image. */
export interface Driver {
  /** The driver's kind as a spec names it ("wasm", "qemu"…), with its mode where it has one. */
  readonly name: string;
  readonly agreement: Agreement;
  readonly capabilities: ReadonlySet<Capability>;
  /** The diversity profiles this driver offers, the first being the primary's default. */
  profiles(): readonly DiversityProfile[];
  /** Where the primary can be reached from outside (none for a batch guest). */
  endpoints(): Promise<readonly Endpoint[]>;
  createVm(request: VmRequest): Promise<Vm>;
  /** Ends the VMs still running (as `kill` does) and frees what the driver holds for the computation (caches stay). */
  close(): Promise<void>;
}
