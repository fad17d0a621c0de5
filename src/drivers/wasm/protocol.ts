// Messages between the host side of a wasm VM (WasmVm, in the manager's thread) and the replica
// running the guest (in a worker thread, possibly inside a child process). The replica blocks
// synchronously at epoch barriers and on replayed inputs, so host→replica messages are read with
// receiveMessageOnPort, never with an event listener.

import type { EpochBounds } from '../spec.js';
import type { EpochReport, Fault, InputRecord, ResourceLimits, Role, SnapshotDelta, VmEnd } from '../types.js';

export interface ReplicaInit {
  readonly vmId: string;
  readonly role: Role;
  /** Instrumented module; a compiled WebAssembly.Module when in the same process. */
  readonly module: WebAssembly.Module | Uint8Array;
  /** Export names of the guest's mutable globals, read as registers at every epoch. */
  readonly globals: readonly string[];
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Host path of the read-only input directory, seen by the guest as /input. */
  readonly inputDir?: string;
  /** Primary only: where live stdin comes from: inherit fd 0, a file, or nothing. */
  readonly stdin: { readonly kind: 'fd'; readonly fd: number } | { readonly kind: 'none' };
  readonly epochs: EpochBounds;
  readonly limits: ResourceLimits;
  /** Records replayed before the replica goes live (primary) or waits for more (shadow). */
  readonly replay: readonly InputRecord[];
  /** Up to this epoch the replica does not wait at barriers (catching up after a restore). */
  readonly freeRunUntil: number;
  /** Faults applied at the end of the given epoch, before the digest. */
  readonly faults: readonly { readonly epoch: number; readonly fault: Fault }[];
  /** Shared Int32Array(1): bumped by the host after each message, so the replica can wait. */
  readonly signal: SharedArrayBuffer;
}

export type HostToReplica =
  | { readonly t: 'go' }
  | { readonly t: 'input'; readonly records: readonly InputRecord[] }
  /** The primary is gone: a shadow asking for more input has diverged. */
  | { readonly t: 'log-end' }
  | { readonly t: 'read-pages'; readonly id: number; readonly pages: readonly number[] }
  | { readonly t: 'snapshot'; readonly id: number; readonly base?: Uint8Array }
  | { readonly t: 'inject'; readonly id: number; readonly fault: Fault }
  | { readonly t: 'limits'; readonly id: number; readonly limits: ResourceLimits }
  | { readonly t: 'free-run'; readonly until: number };

export type ReplicaReply =
  | { readonly kind: 'pages'; readonly pages: Uint8Array[] }
  | { readonly kind: 'snapshot'; readonly delta: SnapshotDelta }
  | { readonly kind: 'ok' }
  | { readonly kind: 'limits'; readonly limits: ResourceLimits }
  | { readonly kind: 'error'; readonly message: string };

export type ReplicaToHost =
  | { readonly t: 'ready' }
  | { readonly t: 'epoch'; readonly report: EpochReport }
  | { readonly t: 'input'; readonly record: InputRecord }
  | { readonly t: 'mismatch'; readonly epoch: number; readonly expected: string; readonly got: string }
  | { readonly t: 'reply'; readonly id: number; readonly reply: ReplicaReply }
  | { readonly t: 'gone'; readonly end: VmEnd }
  /** A replica process has forwarded everything and is about to disconnect. */
  | { readonly t: 'flushed' };
