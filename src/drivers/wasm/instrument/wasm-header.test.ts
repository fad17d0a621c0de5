import assert from 'node:assert/strict';
import { test } from 'node:test';
import binaryen from 'binaryen';
import { scanMemories } from './wasm-header.js';

function moduleOf(wat: string): Uint8Array {
  const module = binaryen.parseText(wat);
  try {
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

test('a module that imports functions and defines one memory has one memory', () => {
  const bytes = moduleOf(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
    (memory 2))`);
  assert.equal(scanMemories(bytes)?.count, 1);
});

test('an imported memory after named imports is counted once, with its limits', () => {
  const bytes = moduleOf(`(module
    (import "wasi_snapshot_preview1" "args_get" (func (param i32 i32) (result i32)))
    (import "env" "memory" (memory 3 10)))`);
  const shape = scanMemories(bytes);
  assert.equal(shape?.count, 1);
  assert.equal(shape?.memory64, false);
});
