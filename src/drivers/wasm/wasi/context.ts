// What every group of WASI calls shares: the guest's memory, its descriptors, and the two doors
// to the outside world (the input gate in, the output callback out).

import type { DescriptorTable } from './descriptors.js';
import type { InputGate } from './gate.js';
import type { GuestMemory } from './guest-memory.js';

/** The guest's standard input on the host. Blocking; returns the bytes read, 0 at end of input. */
export interface StdinSource {
  read(buf: Uint8Array): number;
}

export interface WasiContext {
  readonly memory: GuestMemory;
  readonly fds: DescriptorTable;
  readonly gate: InputGate;
  readonly stdin: StdinSource;
  /** `bytes` may be a view of guest memory, valid during the call only: copy it to keep it. */
  readonly output: (stream: string, bytes: Uint8Array) => void;
}

/** One WASI function as this layer implements it: i32 arguments arrive unsigned, i64 as bigint. */
export type Syscall = (...args: never[]) => number;
