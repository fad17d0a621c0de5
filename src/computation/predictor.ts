// The predictive stage of the loop: an epoch's measurements become features, the analysis engine
// scores them, and the policy turns scores and forecasts into decisions, which the loop carries
// out. A difference of state is charged to the replica the vote blamed (or, for free-running
// replicas, the one the drift blames), never to the replicas that agreed; predictions are kept
// in the store with the replica they are about.

import type { AnalysisEngine } from '../analysis/engine.js';
import { type PairFeatures, type VmFeatures, vmFeaturesFromMetrics } from '../analysis/features.js';
import type { Agreement, EpochReport } from '../drivers/types.js';
import { type Decision, type Policy, type PolicyEvaluator, resolvePolicy, type VmIdentity } from '../policy/index.js';
import type { Prediction, Store, StoredPrediction } from '../store/types.js';
import { driftBlame } from '../sync/agreement.js';
import type { StateDifference } from '../sync/compare.js';

/**
 * Replicas are deterministic, so a difference in state is a failure. Everything else (timing on
 * a shared host, syscall mix, memory use) changes with the workload's phases: it may raise a
 * warning, never a failure prediction that recovers a replica (scaled below predict-failure).
 */
const BEHAVIOUR_WEIGHT = 0.8;
const STATE_FEATURES: ReadonlySet<string> = new Set([
  'diff.differingPages',
  'diff.diffBytes',
  'diff.outputMismatches',
  'diff.syscallMismatches',
]);

/** One replica at the barrier, as the predictor needs it. */
export interface Observed extends VmIdentity {
  readonly report: EpochReport;
  readonly lagMs: number;
}

/** A shadow's difference from the primary at this epoch. */
export interface ObservedPair {
  readonly shadow: string;
  readonly difference: StateDifference | undefined;
  /** Bytes that differ inside the differing pages (from the page deltas). */
  readonly diffBytes: number;
}

export interface EpochObservation {
  readonly epoch: number;
  readonly primary: Observed;
  readonly shadows: readonly Observed[];
  readonly pairs: readonly ObservedPair[];
  /**
   * Exact agreement: the VM ids the vote blamed, or 'undecided' (no majority: nobody is charged
   * until a retry decides). Drift agreement: null (the drift itself decides).
   */
  readonly blamed: readonly string[] | 'undecided' | null;
}

/** A decision with the stored prediction it came from (level-downs have none). */
export interface PredictedDecision {
  readonly decision: Decision;
  readonly prediction: StoredPrediction | undefined;
}

export interface EpochAnalysis {
  readonly epoch: number;
  /** Score per VM id, as the policy judged it. */
  readonly scores: readonly { readonly vmId: string; readonly score: number }[];
  readonly predictions: readonly StoredPrediction[];
  readonly decisions: readonly PredictedDecision[];
}

export interface PredictorOptions {
  readonly computationId: string;
  readonly agreement: Agreement;
  readonly engine: AnalysisEngine;
  readonly evaluator: PolicyEvaluator;
  readonly policy: () => Policy;
  readonly store: Store;
  /** The memory limit the primary runs under now (forecasts are about crossing it). */
  readonly memoryLimitBytes: () => number;
}

export class Predictor {
  private readonly previousMemory = new Map<string, number>();
  private previousLimit: number | undefined;

  constructor(private readonly options: PredictorOptions) {}

  analyze(observation: EpochObservation): EpochAnalysis {
    const { computationId, engine, evaluator, store } = this.options;
    const limit = this.options.memoryLimitBytes();
    // A forecast is about the limit it was made for: once the limit moved, the forecast rule
    // re-arms (null = no prediction this epoch) and judges the new limit from the next epoch.
    const limitMoved = this.previousLimit !== undefined && this.previousLimit !== limit;
    this.previousLimit = limit;
    const replicas = [observation.primary, ...observation.shadows];
    const vms: VmFeatures[] = replicas.map((vm) => this.features(vm, observation, limit));
    const pairs: PairFeatures[] = observation.pairs.map((pair) => pairFeatures(observation, pair));
    const scores = engine.observe({ computation: computationId, epoch: observation.epoch, vms, pairs });
    const behaviour = new Map<string, number>();
    const state = new Map<string, number>();
    const forecasts = new Map<string, number | null>();
    for (const score of scores) {
      const split = splitScore(score.byFeature);
      behaviour.set(score.vm, split.behaviour);
      state.set(score.vm, split.state);
      forecasts.set(score.vm, score.forecast?.crossesAt ?? null);
    }
    const charged = this.charge(observation, state);
    const decisions: Decision[] = [];
    const judged: { vmId: string; score: number }[] = [];
    for (const vm of replicas) {
      const score = Math.max(behaviour.get(vm.id) ?? 0, charged.get(vm.id) ?? 0);
      judged.push({ vmId: vm.id, score });
      const forecast = vm.role === 'primary' ? { memory: limitMoved ? null : (forecasts.get(vm.id) ?? null) } : {};
      decisions.push(...evaluator.evaluate({ vm: identity(vm), epoch: observation.epoch, score, forecast }));
    }
    const predicted = decisions.filter((d) => d.cause !== 'level-down');
    const stored = predicted.length > 0 ? store.audit.appendPredictions(predicted.map((d) => predictionOf(computationId, d))) : [];
    const byDecision = new Map(predicted.map((decision, i) => [decision, stored[i]]));
    return {
      epoch: observation.epoch,
      scores: judged,
      predictions: stored,
      decisions: decisions.map((decision) => ({ decision, prediction: byDecision.get(decision) })),
    };
  }

  private features(vm: Observed, observation: EpochObservation, limit: number): VmFeatures {
    const key = vm.role === 'primary' ? 'primary' : vm.id;
    const previous = this.previousMemory.get(key);
    this.previousMemory.set(key, vm.report.metrics.memoryBytes);
    return vmFeaturesFromMetrics({
      vm: vm.id,
      role: vm.role,
      epoch: observation.epoch,
      metrics: vm.report.metrics,
      primaryRunMs: observation.primary.report.metrics.runMs,
      ...(previous !== undefined ? { previousMemoryBytes: previous } : {}),
      memoryLimitBytes: limit,
    });
  }

  /**
   * Who a pair's state score is charged to. Exact: the vote's blamed replicas (the primary takes
   * the largest pair score; a shadow its own pair's). Drift: the pairs the policy would call a
   * failure decide by driftBlame; when they cannot (one shadow against the primary), each failing
   * pair stays charged to its shadow, and the loop recovers both sides of it.
   */
  private charge(observation: EpochObservation, state: ReadonlyMap<string, number>): Map<string, number> {
    const primaryId = observation.primary.id;
    const shadowIds = observation.shadows.map((s) => s.id);
    const pairScore = (shadow: string) => state.get(shadow) ?? 0;
    const largest = Math.max(0, ...shadowIds.map(pairScore));
    const charged = new Map<string, number>();
    const blamed =
      observation.blamed ??
      (() => {
        const failing = observation.shadows.filter((s) => pairScore(s.id) >= this.failureThreshold(s)).map((s) => s.id);
        const verdict = driftBlame(primaryId, shadowIds, failing);
        return verdict.kind === 'undecided' ? failing : verdict.blamed;
      })();
    if (blamed === 'undecided') return charged;
    for (const id of blamed) charged.set(id, id === primaryId ? largest : pairScore(id));
    return charged;
  }

  /** The enter threshold of the VM's most severe level: the score at which the policy recovers it. */
  private failureThreshold(vm: VmIdentity): number {
    const levels = resolvePolicy(this.options.policy(), vm).levels;
    return levels[levels.length - 1]?.enter ?? Number.POSITIVE_INFINITY;
  }
}

/** A VM's scores by feature as the policy weighs them: state in full, behaviour up to a warning. */
export function splitScore(byFeature: Readonly<Record<string, number>>): { state: number; behaviour: number } {
  let state = 0;
  let behaviour = 0;
  for (const [feature, value] of Object.entries(byFeature)) {
    if (STATE_FEATURES.has(feature)) state = Math.max(state, value);
    else behaviour = Math.max(behaviour, value * BEHAVIOUR_WEIGHT);
  }
  return { state, behaviour };
}

/** The score the policy judges for a VM whose state differences are its own. */
export function predictionScore(byFeature: Readonly<Record<string, number>>): number {
  const { state, behaviour } = splitScore(byFeature);
  return Math.max(state, behaviour);
}

function identity(vm: Observed): VmIdentity {
  return { id: vm.id, role: vm.role, profile: vm.profile };
}

function pairFeatures(observation: EpochObservation, pair: ObservedPair): PairFeatures {
  const shadow = observation.shadows.find((s) => s.id === pair.shadow);
  const difference = pair.difference;
  return {
    primary: observation.primary.id,
    shadow: pair.shadow,
    epoch: observation.epoch,
    differingPages: difference?.pages.length ?? 0,
    diffBytes: pair.diffBytes,
    // Free-running shadows pair their answers with the primary's (PairedOutputs).
    outputMismatches: (difference?.outputs.length ?? 0) + (shadow?.report.pairedOutputs?.differing ?? 0),
    syscallMismatches: difference?.end ? 1 : 0,
    shadowLagMs: shadow?.lagMs ?? 0,
  };
}

function predictionOf(computationId: string, decision: Decision): Prediction {
  return {
    computationId,
    vmId: decision.vm.id,
    epoch: decision.epoch,
    detector: decision.cause === 'forecast' ? 'holt-forecast' : 'engine',
    score: decision.score,
    level: decision.level === 'predict-failure' || decision.cause === 'forecast' ? 'failure' : 'warning',
  };
}
