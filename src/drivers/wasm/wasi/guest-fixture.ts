// Test support: compiles small C programs to wasm32-wasi with the system clang and runs them on
// this layer. Used by the tests beside it (which need the host tool `clang`, see host-tools.ts).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcExit } from './errors.js';
import { createWasi, type WasiOptions } from './wasi.js';

/** Compiles `source` (C) with `clang --target=wasm32-wasi -O2` in a throwaway directory. */
export function compileC(name: string, source: string): WebAssembly.Module {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-guest-'));
  try {
    return new WebAssembly.Module(compileIn(dir, name, source));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function compileIn(dir: string, name: string, source: string): Uint8Array<ArrayBuffer> {
  const c = join(dir, `${name}.c`);
  const wasm = join(dir, `${name}.wasm`);
  writeFileSync(c, source);
  execFileSync('clang', ['--target=wasm32-wasi', '-O2', '-o', wasm, c], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Uint8Array(readFileSync(wasm));
}

/** Everything a guest output, per stream, in order. */
export class OutputLog {
  readonly chunks: { stream: string; bytes: Uint8Array }[] = [];
  readonly output = (stream: string, bytes: Uint8Array): void => {
    this.chunks.push({ stream, bytes: bytes.slice() });
  };

  bytes(stream: string): Uint8Array {
    return Buffer.concat(this.chunks.filter((chunk) => chunk.stream === stream).map((chunk) => chunk.bytes));
  }

  text(stream: string): string {
    return Buffer.from(this.bytes(stream)).toString('utf8');
  }
}

export interface GuestRun {
  readonly exitCode: number;
  readonly scratch: Map<string, Uint8Array>;
}

/** Runs `_start` to its end; a proc_exit is an exit code, anything else thrown propagates. */
export function runGuest(module: WebAssembly.Module, options: WasiOptions): GuestRun {
  const wasi = createWasi(options);
  const instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: wasi.imports });
  wasi.bind(instance.exports.memory as WebAssembly.Memory);
  try {
    let exitCode = 0;
    try {
      (instance.exports._start as () => void)();
    } catch (error) {
      if (!(error instanceof ProcExit)) throw error;
      exitCode = error.code;
    }
    return { exitCode, scratch: wasi.scratchFiles() };
  } finally {
    wasi.close();
  }
}

/** A stdin that serves `text` once, then end of input. */
export function stdinOf(text: string): { read(buf: Uint8Array): number } {
  let rest = Buffer.from(text);
  return {
    read(buf) {
      const count = Math.min(buf.length, rest.length);
      buf.set(rest.subarray(0, count));
      rest = rest.subarray(count);
      return count;
    },
  };
}

/** A stdin a replica must never touch: counts the reads it gets (and serves none). */
export function watchedStdin(): { reads: number; read(buf: Uint8Array): number } {
  return {
    reads: 0,
    read() {
      this.reads++;
      return 0;
    },
  };
}
