// What can be wrong with a guest module, each with a one-line message that says what to do.

import { ShadowvmError } from '../../../errors.js';

export class NotWasmError extends ShadowvmError {
  constructor() {
    super('not-wasm', 'the file is not a WebAssembly module (bad magic bytes): pass a .wasm file built for wasm32-wasi');
  }
}

export class InvalidWasmError extends ShadowvmError {
  constructor(reason: string) {
    super('wasm-invalid', `the WebAssembly module fails to compile: ${reason}`);
  }
}

export class NoStartError extends ShadowvmError {
  constructor() {
    super('no-start', 'the module exports no _start: build it as a WASI command, not a reactor');
  }
}

export class NoMemoryError extends ShadowvmError {
  constructor() {
    super('no-memory', 'the module exports no memory: build it as a WASI command, which exports "memory"');
  }
}

export class Memory64Error extends ShadowvmError {
  constructor() {
    super('memory64', 'the module uses 64-bit memory (memory64), which shadowvm does not support: build it for wasm32');
  }
}

/** A valid module that uses something the instrumenter cannot rewrite. */
export class UnsupportedWasmError extends ShadowvmError {
  constructor(what: string) {
    super('wasm-unsupported', `the module ${what}, which shadowvm cannot instrument`);
  }
}
