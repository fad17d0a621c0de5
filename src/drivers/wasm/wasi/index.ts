// The WASI preview1 layer of the wasm driver: what the worker uses to run a guest.

export { createWasi, WasiConfigError, type Wasi, type WasiImports, type WasiOptions } from './wasi.js';
export type { StdinSource } from './context.js';
export type { MemorySource } from './guest-memory.js';
export { ChainedGate, END_OF_LOG, RecordingGate, ReplayGate, type GateRecord, type InputGate } from './gate.js';
export { ProcExit, ReplayDivergenceError, WasiNotBoundError } from './errors.js';
