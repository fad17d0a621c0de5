// The WASI preview1 layer of the wasm driver: what the worker uses to run a guest.

export type { StdinSource } from './context.js';
export { ProcExit, ReplayDivergenceError, WasiNotBoundError } from './errors.js';
export { ChainedGate, END_OF_LOG, type GateRecord, type InputGate, RecordingGate, ReplayGate } from './gate.js';
export type { MemorySource } from './guest-memory.js';
export { createWasi, type Wasi, WasiConfigError, type WasiImports, type WasiOptions } from './wasi.js';
