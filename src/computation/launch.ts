// Runs one computation end to end: driver → recorder → loop (with its predictor and intervener)
// → report, the report kept in the store. The CLI and the service both come through here, for
// every driver.

import { AnalysisEngine } from '../analysis/engine.js';
import { CheckpointStore } from '../checkpoints/page-store.js';
import { requireCapabilities } from '../drivers/capabilities.js';
import { type ImageIdentity, type OpenContext, openDriver } from '../drivers/open.js';
import type { Driver, Endpoint } from '../drivers/types.js';
import { ShadowvmError } from '../errors.js';
import { createAlerters, Intervener } from '../interventions/index.js';
import { defaultPolicy, type Policy, PolicyEvaluator } from '../policy/index.js';
import type { Json, NewComputation, Store, StoredAction } from '../store/types.js';
import { Computation } from './computation.js';
import { neededCapabilities } from './needs.js';
import type { ComputationEvent, EpochObserver, OutputSink } from './ports.js';
import { type EpochAnalysis, Predictor } from './predictor.js';
import { buildReport, type ComputationReport } from './report.js';
import type { ComputationSpec } from './spec.js';
import { StoreRecorder } from './store-recorder.js';

/** A computation's run, whatever the driver. */
export interface Launch {
  readonly spec: ComputationSpec;
  /** What only this process has for the driver (a live stdin descriptor…). */
  readonly context?: OpenContext;
  readonly store: Store;
  readonly sink: OutputSink;
  readonly observers?: readonly EpochObserver[];
  readonly onEvent?: (event: ComputationEvent) => void;
  /** Called once the driver is open, with where the outside world reaches the primary. */
  readonly onEndpoints?: (endpoints: readonly Endpoint[]) => void;
  /** Called once the computation has its id, before the guest starts. */
  readonly onCreated?: (id: string) => void;
  /** Thresholds and interventions; the built-in defaults when absent. */
  readonly policy?: Policy;
  /** Every action row, once written. */
  readonly onAction?: (action: StoredAction) => void;
  /** Where log alerts and intervention lines go (default: stderr). */
  readonly writeLine?: (line: string) => void;
  /** Called once the computation runs, with its handle (for run-time control). */
  readonly onStarted?: (handle: RunningComputation) => void;
  /** Every epoch's scores and predictions (live displays, metrics). */
  readonly onAnalysis?: (analysis: EpochAnalysis) => void;
  /** A row the caller created beforehand (status `created`, e.g. a queued computation) to run under. */
  readonly computationId?: string;
}

/** What can be done to a computation while it runs (the service's API acts through this). */
export interface RunningComputation {
  readonly computation: Computation;
  /** What its driver can do (a request for more is refused before it reaches the loop). */
  readonly driver: Pick<Driver, 'name' | 'capabilities'>;
  policy(): Policy;
  /** Replaces thresholds and interventions at run time; level state is kept. */
  setPolicy(policy: Policy): void;
}

/** Opens the computation's driver, runs it to its end and keeps its report in the store. */
export async function launch(options: Launch): Promise<ComputationReport> {
  const { driver, image } = await openDriver(options.spec.driver, options.context);
  try {
    return await run(options, driver, image);
  } finally {
    await driver.close();
  }
}

async function run(launch: Launch, driver: Driver, image: ImageIdentity): Promise<ComputationReport> {
  const { store } = launch;
  const config = launch.spec.config;
  // The built-in policy asks only for what a driver may lack; a file or request asks on purpose.
  requireCapabilities(driver, neededCapabilities(config, launch.policy));
  const endpoints = await driver.endpoints();
  launch.onEndpoints?.(endpoints);
  const row = launch.computationId
    ? store.computations.update(launch.computationId, {})
    : store.computations.create(computationRow({ name: image.name, image: image.reference, spec: launch.spec }));
  launch.onCreated?.(row.id);
  store.computations.update(row.id, { status: 'running' });
  try {
    return await runRow(launch, driver, image, row.id, endpoints);
  } catch (error) {
    // Whatever stopped it, the row says so: a computation is never left `running` by a failure.
    const message = error instanceof ShadowvmError ? error.message : `internal error: ${(error as Error).message}`;
    store.computations.update(row.id, { status: 'failed', report: { end: message } });
    throw error;
  }
}

async function runRow(
  launch: Launch,
  driver: Driver,
  image: ImageIdentity,
  id: string,
  endpoints: readonly Endpoint[],
): Promise<ComputationReport> {
  const { store } = launch;
  const config = launch.spec.config;
  const row = { id };
  const recorder = new StoreRecorder(row.id, store, new CheckpointStore(store.checkpoints), launch.onEvent, launch.onAction);
  let policy = launch.policy ?? defaultPolicy();
  const evaluator = new PolicyEvaluator(policy);
  let computation: Computation | undefined;
  const engine = new AnalysisEngine({ agreement: driver.agreement, byFeature: policy.detectors });
  const predictor = new Predictor({
    computationId: row.id,
    agreement: driver.agreement,
    engine,
    evaluator,
    policy: () => policy,
    store,
    memoryLimitBytes: () => computation?.currentMemoryLimit ?? config.memoryLimitBytes,
  });
  const intervener = new Intervener({
    computation: row.id,
    target: {
      limits: () => (computation as Computation).target.limits(),
      adjustResources: (change) => (computation as Computation).target.adjustResources(change),
      recover: (vm, reason) => (computation as Computation).target.recover(vm, reason),
    },
    alerters: createAlerters(policy.alerts, launch.writeLine ? { writeLine: launch.writeLine, warn: launch.writeLine } : {}),
  });
  computation = new Computation(row.id, driver, config, {
    recorder,
    sink: launch.sink,
    predictor,
    intervener,
    observers: launch.observers ?? [],
    ...(launch.onAnalysis ? { onAnalysis: launch.onAnalysis } : {}),
  });
  const running = computation.run();
  launch.onStarted?.({
    computation,
    driver,
    policy: () => policy,
    setPolicy: (next) => {
      evaluator.setPolicy(next);
      policy = next;
    },
  });
  const result = await running.finally(() => engine.close());
  await intervener.flush(2000);
  const report = buildReport({
    result,
    driver: driver.name,
    image: image.reference,
    moduleHash: image.digest,
    args: driverArgs(launch.spec),
    endpoints,
    recorder,
    agreement: driver.agreement,
  });
  store.computations.update(row.id, {
    status: result.end.kind === 'exit' && result.end.code === 0 ? 'succeeded' : 'failed',
    exitCode: report.exitCode,
    report: JSON.parse(JSON.stringify(report)) as Json,
  });
  return report;
}

/** The stored row of a computation, made the same way whether it runs now or waits in a queue. */
export function computationRow(input: { name: string; image: string; spec: ComputationSpec }): NewComputation {
  return { name: input.name, image: input.image, config: JSON.parse(JSON.stringify(input.spec)) as Json };
}

/** The guest's own arguments (a wasm guest's argv, a QEMU guest's kernel parameters). */
function driverArgs(spec: ComputationSpec): readonly string[] {
  const { args, kernelArgs } = spec.driver as { args?: unknown; kernelArgs?: unknown };
  const list = Array.isArray(args) ? args : Array.isArray(kernelArgs) ? kernelArgs : [];
  return list.filter((arg): arg is string => typeof arg === 'string');
}
