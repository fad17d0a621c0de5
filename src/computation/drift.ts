// The predictive half of the loop: each resolved epoch becomes features, the analysis engine
// scores them, the policy turns scores and forecasts into decisions, and the intervener acts on
// the computation (rollback, resources) or alerts. Every prediction and action is recorded.

import type { AnalysisEngine } from '../analysis/engine.js';
import { type PairFeatures, type VmFeatures, vmFeaturesFromMetrics } from '../analysis/features.js';
import type { ResourceLimits } from '../drivers/types.js';
import type { ActionRecord, Intervener, InterventionTarget } from '../interventions/index.js';
import type { Decision, PolicyEvaluator } from '../policy/index.js';
import type { Prediction, Store } from '../store/types.js';
import type { EpochObserver, EpochOutcome } from './ports.js';

/**
 * Replicas are deterministic, so a difference in state is a failure. Everything else (timing on
 * a shared host, syscall mix, memory use) changes with the workload's phases: it may raise a
 * warning, never a failure prediction that rolls back (scaled below predict-failure's 0.85).
 */
const BEHAVIOUR_WEIGHT = 0.8;
const STATE_FEATURES = new Set(['diff.differingPages', 'diff.outputMismatches', 'diff.syscallMismatches']);

export interface VmDescription {
  readonly id: string;
  readonly role: 'primary' | 'shadow';
  readonly profile: string;
}

export interface DriftOptions {
  readonly computationId: string;
  readonly engine: AnalysisEngine;
  readonly evaluator: PolicyEvaluator;
  readonly intervener: Intervener;
  readonly store: Store;
  readonly describe: (vmId: string) => VmDescription | undefined;
  readonly limits: () => ResourceLimits;
  readonly onAction?: (record: ActionRecord) => void;
  /** Every epoch's scores (per VM, as the policy sees them) and the predictions they raised. */
  readonly onAnalysis?: (analysis: EpochAnalysis) => void;
}

/** What the analysis made of one epoch, for live displays and metrics. */
export interface EpochAnalysis {
  readonly epoch: number;
  readonly scores: readonly { readonly vmId: string; readonly score: number }[];
  readonly predictions: readonly Prediction[];
}

/** The policy's score of a VM: state features count fully, behaviour features only up to a warning. */
export function predictionScore(byFeature: Readonly<Record<string, number>>): number {
  let score = 0;
  for (const [feature, value] of Object.entries(byFeature)) {
    score = Math.max(score, STATE_FEATURES.has(feature) ? value : value * BEHAVIOUR_WEIGHT);
  }
  return score;
}

export class DriftAnalysis implements EpochObserver {
  private readonly previousMemory = new Map<string, number>();
  private previousLimitBytes: number | undefined;
  readonly decisions: Decision[] = [];

  constructor(private readonly options: DriftOptions) {}

  async observe(outcome: EpochOutcome): Promise<void> {
    const { computationId, engine, evaluator, intervener, store } = this.options;
    const limitBytes = this.options.limits().memoryBytes ?? 2 ** 32;
    // A forecast is about the limit it was made for: once the limit moved, the policy's forecast
    // rule re-arms (null = no prediction this epoch) and judges the new limit from the next epoch.
    const limitMoved = this.previousLimitBytes !== undefined && this.previousLimitBytes !== limitBytes;
    this.previousLimitBytes = limitBytes;
    const vms: VmFeatures[] = [];
    let primaryId: string | undefined;
    let primaryRunMs = 0;
    for (const [vmId, report] of outcome.reports) {
      const vm = this.options.describe(vmId);
      if (vm?.role === 'primary') {
        primaryId = vmId;
        primaryRunMs = report.metrics.runMs;
      }
    }
    for (const [vmId, report] of outcome.reports) {
      const vm = this.options.describe(vmId);
      if (!vm) continue;
      const previous = this.previousMemory.get(vm.role === 'primary' ? 'primary' : vmId);
      vms.push(
        vmFeaturesFromMetrics({
          vm: vmId,
          role: vm.role,
          epoch: outcome.epoch,
          metrics: report.metrics,
          primaryRunMs,
          ...(previous !== undefined ? { previousMemoryBytes: previous } : {}),
          memoryLimitBytes: limitBytes,
        }),
      );
      this.previousMemory.set(vm.role === 'primary' ? 'primary' : vmId, report.metrics.memoryBytes);
    }
    const pairs: PairFeatures[] = [];
    for (const vmId of outcome.reports.keys()) {
      if (vmId === primaryId || !primaryId) continue;
      const difference = outcome.differences.get(vmId);
      pairs.push({
        primary: primaryId,
        shadow: vmId,
        epoch: outcome.epoch,
        differingPages: difference?.pages.length ?? 0,
        diffBytes: 0,
        // Free-running shadows pair their answers with the primary's (PairedOutputs).
        outputMismatches: (difference?.outputs.length ?? 0) + (outcome.reports.get(vmId)?.pairedOutputs?.differing ?? 0),
        syscallMismatches: difference?.end ? 1 : 0,
        shadowLagMs: outcome.lagMs.get(vmId) ?? 0,
      });
    }
    const scores = engine.observe({ computation: computationId, epoch: outcome.epoch, vms, pairs });
    const decisions: Decision[] = [];
    for (const score of scores) {
      const vm = this.options.describe(score.vm);
      if (!vm) continue;
      const forecast = vm.role === 'primary' ? { memory: limitMoved ? null : (score.forecast?.crossesAt ?? null) } : {};
      decisions.push(...evaluator.evaluate({ vm, epoch: outcome.epoch, score: predictionScore(score.byFeature), forecast }));
    }
    const predictions: Prediction[] = decisions
      .filter((d) => d.cause !== 'level-down')
      .map((d) => ({
        computationId,
        vmId: d.vm.id,
        epoch: d.epoch,
        detector: d.cause === 'forecast' ? 'holt-forecast' : 'engine',
        score: d.score,
        level: d.level === 'predict-failure' || d.cause === 'forecast' ? 'failure' : 'warning',
      }));
    if (predictions.length > 0) store.audit.appendPredictions(predictions);
    this.options.onAnalysis?.({
      epoch: outcome.epoch,
      scores: scores.map((score) => ({ vmId: score.vm, score: predictionScore(score.byFeature) })),
      predictions,
    });
    this.decisions.push(...decisions);
    if (decisions.length > 0) await intervener.intervene(decisions);
  }
}

/** The computation seen by the intervener: its primary's resources, and rollback on request. */
export function interventionTarget(computation: {
  primaryLimits(): ResourceLimits;
  requestRollback(reason: string): void;
  adjustAll(change: ResourceLimits): Promise<ResourceLimits>;
}): InterventionTarget {
  return {
    limits: () => computation.primaryLimits(),
    rollback: async (reason) => {
      computation.requestRollback(reason);
      return { ok: true, detail: 'the primary rolls back to its last verified checkpoint at this epoch barrier' };
    },
    adjustResources: async (change) => {
      const limits = await computation.adjustAll(change);
      return { ok: true, detail: `limits now ${JSON.stringify(limits)}` };
    },
  };
}
