// Runs one computation end to end: driver → recorder → drift analysis → run → report, the
// report kept in the store. The CLI and the service both come through here, for every driver.

import { AnalysisEngine } from '../analysis/engine.js';
import { CheckpointStore } from '../checkpoints/page-store.js';
import { type ImageIdentity, type OpenContext, openDriver } from '../drivers/open.js';
import type { Driver, Endpoint } from '../drivers/types.js';
import { type ActionRecord, createAlerters, Intervener } from '../interventions/index.js';
import { defaultPolicy, type Policy, PolicyEvaluator } from '../policy/index.js';
import type { Json, NewComputation, Store } from '../store/types.js';
import { Computation } from './computation.js';
import { DriftAnalysis, type EpochAnalysis, interventionTarget } from './drift.js';
import type { ComputationEvent, EpochObserver, OutputSink } from './ports.js';
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
  launch.onEndpoints?.(await driver.endpoints());
  const row = launch.computationId
    ? store.computations.update(launch.computationId, {})
    : store.computations.create(computationRow({ name: image.name, image: image.reference, spec: launch.spec }));
  launch.onCreated?.(row.id);
  store.computations.update(row.id, { status: 'running' });
  const recorder = new StoreRecorder(row.id, store, new CheckpointStore(store.checkpoints), launch.onEvent);
  const computation = new Computation(row.id, driver, config, recorder, launch.sink, [...(launch.observers ?? [])]);
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
      engine: new AnalysisEngine({ agreement: driver.agreement, byFeature: policy.detectors }),
      evaluator,
      intervener,
      store,
      describe: (vmId) => computation.describeVm(vmId),
      limits: () => computation.primaryLimits(),
      ...(launch.onAnalysis ? { onAnalysis: launch.onAnalysis } : {}),
    }),
  );
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
    image: image.reference,
    moduleHash: image.digest,
    args: driverArgs(launch.spec),
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
