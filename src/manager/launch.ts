// Runs one computation end to end: driver → recorder → drift analysis → run → report, the
// report kept in the store. The CLI and the service both come through here, for every driver.

import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { AnalysisEngine } from '../analysis/engine.js';
import { CheckpointStore } from '../checkpoints/page-store.js';
import type { Driver } from '../drivers/types.js';
import { WasmDriver } from '../drivers/wasm/driver.js';
import { ShadowvmError } from '../errors.js';
import { type ActionRecord, createAlerters, Intervener } from '../interventions/index.js';
import { defaultPolicy, type Policy, PolicyEvaluator } from '../policy/index.js';
import type { Json, NewComputation, Store } from '../store/types.js';
import { Computation } from './computation.js';
import type { ComputationConfig } from './config.js';
import { DriftAnalysis, type EpochAnalysis, interventionTarget } from './drift.js';
import type { ComputationEvent, EpochObserver, OutputSink } from './ports.js';
import { buildReport, type ComputationReport } from './report.js';
import { StoreRecorder } from './store-recorder.js';

export class GuestNotFoundError extends ShadowvmError {
  constructor(path: string, reason: string) {
    super('guest-not-found', `cannot read the guest ${path}: ${reason}; give the path of a .wasm module`);
  }
}

/** A computation's run, whatever the driver. */
export interface Launch {
  readonly driver: Driver;
  /** Short name for people (file name of the guest). */
  readonly name: string;
  /** What runs: a module path or image reference. */
  readonly image: string;
  /** Digest of what runs (module hash, image hash). */
  readonly imageHash: string;
  readonly args: readonly string[];
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
  /** Called once the computation runs, with its handle (for run-time control). */
  readonly onStarted?: (handle: RunningComputation) => void;
  /** Every epoch's drift scores and predictions (live displays, metrics). */
  readonly onAnalysis?: (analysis: EpochAnalysis) => void;
  /** A row the caller created beforehand (status `created`, e.g. a queued computation) to run under. */
  readonly computationId?: string;
}

/** What can be done to a computation while it runs (the service's API acts through this). */
export interface RunningComputation {
  readonly computation: Computation;
  policy(): Policy;
  /** Replaces thresholds and interventions at run time; level state is kept. */
  setPolicy(policy: Policy): void;
}

export interface WasmLaunch extends Omit<Launch, 'driver' | 'name' | 'image' | 'imageHash'> {
  readonly wasmPath: string;
  readonly env: Readonly<Record<string, string>>;
  readonly inputDir?: string;
  /** The primary's live stdin (a file descriptor of this process); none when absent. */
  readonly stdinFd?: number;
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
  const name = basename(launch.wasmPath);
  const driver = await WasmDriver.open({
    wasm,
    args: [name, ...launch.args],
    env: launch.env,
    ...(launch.inputDir ? { inputDir: resolve(launch.inputDir) } : {}),
    ...(launch.stdinFd !== undefined ? { stdinFd: launch.stdinFd } : {}),
    epochs: launch.config.epochs,
  });
  return runLaunch({ ...launch, driver, name, image: resolve(launch.wasmPath), imageHash: driver.moduleHash });
}

export async function runLaunch(launch: Launch): Promise<ComputationReport> {
  const { store, driver } = launch;
  const row = launch.computationId
    ? store.computations.update(launch.computationId, {})
    : store.computations.create(
        computationRow({ name: launch.name, image: launch.image, driver: driver.name, args: launch.args, config: launch.config }),
      );
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
  let currentPolicy = policy;
  const evaluator = new PolicyEvaluator(policy);
  computation.addObserver(
    new DriftAnalysis({
      computationId: row.id,
      engine: new AnalysisEngine({ agreement: driver.agreement }),
      evaluator,
      intervener,
      store,
      describe: (vmId) => computation.describeVm(vmId),
      limits: () => computation.primaryLimits(),
      ...(launch.onAnalysis ? { onAnalysis: launch.onAnalysis } : {}),
    }),
  );
  try {
    const running = computation.run();
    launch.onStarted?.({
      computation,
      policy: () => currentPolicy,
      setPolicy: (next) => {
        evaluator.setPolicy(next);
        currentPolicy = next;
      },
    });
    const result = await running;
    await intervener.flush(2000);
    const report = buildReport({
      result,
      driver: driver.name,
      image: launch.image,
      moduleHash: launch.imageHash,
      args: launch.args,
      divergences: recorder.divergences,
      events: recorder.events,
      checkpoints: recorder.checkpoints,
      interventions: actions,
      agreement: driver.agreement,
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

/** The stored row of a computation, made the same way whether it runs now or waits in a queue. */
export function computationRow(input: {
  name: string;
  image: string;
  driver: string;
  args: readonly string[];
  config: ComputationConfig;
}): NewComputation {
  return {
    name: input.name,
    image: input.image,
    config: JSON.parse(JSON.stringify({ driver: input.driver, args: input.args, ...input.config })) as Json,
  };
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
