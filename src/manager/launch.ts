// Starts one computation on the wasm driver end to end: guest → driver → recorder → run →
// report, the report kept in the store. The CLI and the service both come through here.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { WasmDriver } from '../drivers/wasm/driver.js';
import { ShadowvmError } from '../errors.js';
import { CheckpointStore } from '../checkpoints/page-store.js';
import type { Json, Store } from '../store/types.js';
import { Computation } from './computation.js';
import type { ComputationConfig } from './config.js';
import type { ComputationEvent, EpochObserver, OutputSink } from './ports.js';
import { buildReport, type ComputationReport } from './report.js';
import { StoreRecorder } from './store-recorder.js';
import { AnalysisEngine } from '../analysis/engine.js';
import { Intervener, createAlerters, type ActionRecord } from '../interventions/index.js';
import { PolicyEvaluator, defaultPolicy, type Policy } from '../policy/index.js';
import { DriftAnalysis, interventionTarget } from './drift.js';

export class GuestNotFoundError extends ShadowvmError {
  constructor(path: string, reason: string) {
    super('guest-not-found', `cannot read the guest ${path}: ${reason}; give the path of a .wasm module`);
  }
}

export interface WasmLaunch {
  readonly wasmPath: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly inputDir?: string;
  /** The primary's live stdin (a file descriptor of this process); none when absent. */
  readonly stdinFd?: number;
  readonly config: ComputationConfig;
  readonly store: Store;
  readonly sink: OutputSink;
  readonly observers?: readonly EpochObserver[];
  readonly onEvent?: (event: ComputationEvent) => void;
  /** Called once the computation has its id, before the guest starts. */
  readonly onCreated?: (id: string) => void;
  /** Thresholds and interventions; the built-in defaults when absent. */
  readonly policy?: Policy;
  readonly onAction?: (action: ActionRecord) => void;
  /** Where log alerts and intervention lines go (default: stderr). */
  readonly writeLine?: (line: string) => void;
}

export function readGuest(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GuestNotFoundError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(code));
  }
}

export async function launchWasm(launch: WasmLaunch): Promise<ComputationReport> {
  const wasm = readGuest(launch.wasmPath);
  const driver = await WasmDriver.open({
    wasm,
    args: [launch.wasmPath.split('/').pop() ?? 'guest.wasm', ...launch.args],
    env: launch.env,
    ...(launch.inputDir ? { inputDir: resolve(launch.inputDir) } : {}),
    ...(launch.stdinFd !== undefined ? { stdinFd: launch.stdinFd } : {}),
    epochs: launch.config.epochs,
  });
  const { store } = launch;
  const row = store.computations.create({
    name: launch.wasmPath.split('/').pop() ?? launch.wasmPath,
    image: resolve(launch.wasmPath),
    config: JSON.parse(JSON.stringify({ driver: 'wasm', args: launch.args, ...launch.config })) as Json,
  });
  launch.onCreated?.(row.id);
  store.computations.update(row.id, { status: 'running' });
  const recorder = new StoreRecorder(row.id, store, new CheckpointStore(store.checkpoints), launch.onEvent);
  const computation = new Computation(row.id, driver, launch.config, recorder, launch.sink, [...(launch.observers ?? [])]);
  const policy = launch.policy ?? defaultPolicy();
  const alerters = createAlerters(policy.alerts, launch.writeLine ? { writeLine: launch.writeLine, warn: launch.writeLine } : {});
  const actions: ActionRecord[] = [];
  const intervener = new Intervener({
    computation: row.id,
    target: interventionTarget(computation),
    alerters,
    record: (entry) => {
      actions.push(entry);
      recordAction(store, row.id, entry);
      launch.onAction?.(entry);
    },
  });
  computation.addObserver(
    new DriftAnalysis({
      computationId: row.id,
      engine: new AnalysisEngine(),
      evaluator: new PolicyEvaluator(policy),
      intervener,
      store,
      describe: (vmId) => computation.describeVm(vmId),
      limits: () => computation.primaryLimits(),
    }),
  );
  try {
    const result = await computation.run();
    await intervener.flush(2000);
    const report = buildReport({
      result,
      driver: driver.name,
      image: resolve(launch.wasmPath),
      moduleHash: driver.moduleHash,
      args: launch.args,
      divergences: recorder.divergences,
      events: recorder.events,
      checkpoints: recorder.checkpoints,
      interventions: actions,
    });
    store.computations.update(row.id, {
      status: result.end.kind === 'exit' && result.end.code === 0 ? 'succeeded' : 'failed',
      exitCode: report.exitCode,
      report: JSON.parse(JSON.stringify(report)) as Json,
    });
    return report;
  } finally {
    await driver.close();
  }
}

function recordAction(store: Store, computationId: string, entry: ActionRecord): void {
  store.audit.appendIntervention({
    computationId,
    vmId: entry.vm.id,
    epoch: entry.epoch,
    kind: entry.kind,
    reason: entry.reason,
    score: entry.score,
    outcome: `${entry.outcome.status}: ${entry.outcome.detail}`,
    detail: { level: entry.level, dryRun: entry.dryRun, time: entry.time },
  });
}
