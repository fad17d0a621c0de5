// What the API returns, built from the store and the live manager. Pure reads; no HTTP here, so
// the CLI client can expect exactly these shapes.

import { type ComputationConfig, DEFAULT_CONFIG, DEFAULT_QEMU_MEMORY_BYTES } from '../computation/config.js';
import { type Policy, parsePolicy } from '../policy/index.js';
import type { Manager, StartRequest } from '../service/manager.js';
import type { DriverRequest } from '../service/start-spec.js';
import { ComputationNotFoundError } from '../store/errors.js';
import type { ComputationRow, Store } from '../store/types.js';
import type { CreateComputationBody } from './schemas.js';
import { RequestValidationError } from './validation.js';

export function computationView(manager: Manager, row: ComputationRow) {
  return { ...row, live: manager.live(row.id) ?? null };
}

export function requireComputation(store: Store, id: string): ComputationRow {
  const row = store.computations.get(id);
  if (!row) throw new ComputationNotFoundError(id);
  return row;
}

/** The body of POST /api/computations as the manager takes it. */
export function startRequestFrom(body: CreateComputationBody): StartRequest {
  body.faults.forEach((fault, i) => {
    const index = fault.target === 'primary' ? 0 : Number(fault.target.slice('shadow'.length));
    if (index > body.shadows) {
      throw new RequestValidationError('body', [
        { code: 'custom', path: ['faults', i, 'target'], message: `the computation has ${body.shadows} shadow(s)`, input: fault.target },
      ]);
    }
  });
  const wasm = body.driver === 'wasm' ? body : undefined;
  const config: ComputationConfig = {
    ...DEFAULT_CONFIG,
    shadows: body.shadows,
    shadowProfiles: body.profiles,
    epochs: {
      events: wasm?.epochEvents ?? DEFAULT_CONFIG.epochs.events,
      syscalls: wasm?.epochSyscalls ?? DEFAULT_CONFIG.epochs.syscalls,
      maxEpochMs: body.epochMs ?? DEFAULT_CONFIG.epochs.maxEpochMs,
    },
    checkpointEvery: body.checkpointEvery ?? DEFAULT_CONFIG.checkpointEvery,
    memoryLimitBytes: body.memoryBytes ?? (wasm ? DEFAULT_CONFIG.memoryLimitBytes : DEFAULT_QEMU_MEMORY_BYTES),
    ...(body.maxEpochs !== undefined ? { maxEpochs: body.maxEpochs } : {}),
    ...(body.timeoutMs !== undefined ? { timeoutMs: body.timeoutMs } : {}),
    faults: body.faults,
  };
  return {
    driver: driverRequestFrom(body),
    config,
    ...(body.policy !== undefined ? { policy: policyFrom(body.policy) } : {}),
  };
}

function driverRequestFrom(body: CreateComputationBody): DriverRequest {
  if (body.driver === 'qemu') {
    // As `shadowvm run --driver qemu --epoch-ms T`: 0 leaves the epoch's length to the driver.
    const epochMs = body.epochMs !== undefined && body.epochMs > 0 ? body.epochMs : undefined;
    return {
      kind: 'qemu',
      mode: body.mode,
      ...(body.image !== undefined ? { image: body.image } : {}),
      kernelArgs: body.kernelArgs,
      ...(epochMs !== undefined ? { epochMs } : {}),
    };
  }
  return { kind: 'wasm', guest: body.guest, args: body.args, env: body.env, ...(body.stdin !== undefined ? { stdin: body.stdin } : {}) };
}

/** A policy from a request: YAML/JSON text or the mapping itself; errors name body.policy. */
export function policyFrom(input: string | Record<string, unknown>): Policy {
  return parsePolicy(typeof input === 'string' ? input : JSON.stringify(input), 'body.policy');
}

export function policyView(manager: Manager, id: string) {
  const policy = manager.policy(id);
  return { source: policy.source, policy, thresholds: manager.live(id)?.thresholds ?? {} };
}

export function checkpointsView(store: Store, id: string) {
  requireComputation(store, id);
  return store.checkpoints.list(id).map((c) => ({
    id: c.id,
    seq: c.seq,
    epoch: c.epoch,
    parentId: c.parentId,
    verified: c.verified,
    pageCount: c.pageCount,
    storedPages: store.checkpoints.entries(c.id).length,
    rootDigest: c.rootDigest,
    createdAt: c.createdAt,
  }));
}

export function vmsView(manager: Manager, id: string) {
  requireComputation(manager.store, id);
  const scores = manager.live(id)?.scores ?? {};
  return manager.store.vms.list(id).map((vm) => ({ ...vm, score: scores[vm.vmId] ?? null }));
}

/** Whether an epoch (none: the computation as a whole) is inside an API range query. */
export function inRange(epoch: number | null, range: { from?: number; to?: number }): boolean {
  return epoch === null || ((range.from ?? 0) <= epoch && epoch <= (range.to ?? Number.MAX_SAFE_INTEGER));
}
