// The host side of a wasm VM honours its driver's declaration: a capability the driver does not
// declare is a CapabilityMissingError from every method that needs it, never a silent success.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CapabilityMissingError } from '../capabilities.js';
import type { Capability, VmEnd } from '../types.js';
import { WasmVm } from './vm.js';

function vm(capabilities: readonly Capability[], ends: VmEnd[] = []): WasmVm {
  const role = 'shadow';
  const profile = { name: 'thread/v8', dimensions: {} };
  return new WasmVm({
    id: 'v',
    role,
    profile,
    driver: { name: 'wasm', capabilities: new Set(capabilities) },
    events: { onEpoch() {}, onInput() {}, onInputMismatch() {}, onRestored() {}, onGone: (end) => ends.push(end) },
    // Never started: no module is instantiated.
    init: {
      vmId: 'v',
      role,
      module: new Uint8Array(),
      globals: [],
      args: [],
      env: {},
      stdin: { kind: 'none' },
      epochs: { events: 0, syscalls: 0, maxEpochMs: 0 },
      limits: {},
      replay: [],
      freeRunUntil: 0,
      faults: [],
    },
  });
}

function missing(capability: Capability): (error: unknown) => boolean {
  return (error) => error instanceof CapabilityMissingError && error.capability === capability;
}

test('a wasm VM refuses every capability its driver does not declare', async () => {
  const bare = vm([]);
  await assert.rejects(bare.readPages([0]), missing('pages'));
  await assert.rejects(bare.snapshot(), missing('checkpoint'));
  await assert.rejects(bare.inject({ kind: 'bitflip', address: 0, bit: 0 }), missing('bitflip'));
  await assert.rejects(bare.inject({ kind: 'corrupt-input', seq: 0 }), missing('corrupt-input'));
  await assert.rejects(bare.adjust({ cpuShare: 1 }), missing('cpu-limit'));
  await vm(['bitflip']).inject({ kind: 'bitflip', address: 0, bit: 0 });
});

test('a killed wasm VM does not start', { timeout: 5000 }, async () => {
  const ends: VmEnd[] = [];
  const killed = vm([], ends);
  await killed.kill('before its start');
  await assert.rejects(killed.start(), /has ended/);
  assert.deepEqual(ends, [{ kind: 'killed', message: 'before its start' }]);
});
