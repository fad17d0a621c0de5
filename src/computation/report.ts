// The report of one computation: what the CLI prints and writes with --report, and what the
// store keeps as the computation's final record. Built from the run's result and its events.

import type { VerdictResolution } from '../difflog/types.js';
import type { Agreement, Endpoint } from '../drivers/types.js';
import { describeEnd } from '../drivers/vm-end.js';
import type { ActionCause } from '../store/types.js';
import type { ComputationResult, ReplicaSummary } from './computation.js';
import type { ComputationEvent, VerdictEntry } from './ports.js';
import type { StoreRecorder } from './store-recorder.js';

export interface ComputationReport {
  readonly computationId: string;
  readonly driver: string;
  readonly image: string;
  readonly moduleHash: string;
  readonly args: readonly string[];
  readonly end: string;
  readonly exitCode: number;
  readonly epochs: number;
  readonly verifiedEpochs: number;
  /** Where the outside world reached the primary (e.g. free mode's mirrored HTTP server). */
  readonly endpoints: readonly Endpoint[];
  /** How each shadow differed from the primary, pairwise, per resolution of an epoch. */
  readonly divergences: readonly {
    readonly epoch: number;
    readonly attempt: number;
    readonly vm: string;
    readonly peer: string;
    readonly pages: number;
    readonly pageSample: readonly number[];
    readonly diffBytes: number;
    readonly registers: readonly string[];
    readonly outputs: readonly string[];
    readonly end?: { readonly primary: string; readonly shadow: string };
    readonly inputMismatch?: { readonly expected: string; readonly got: string };
  }[];
  /** The vote at each epoch whose replicas differed: who was blamed, or how an undecided one was settled. */
  readonly verdicts: readonly {
    readonly epoch: number;
    readonly attempt: number;
    readonly kind: VerdictEntry['kind'];
    readonly blamed: readonly string[];
    readonly majority: readonly string[];
    readonly differing: readonly string[];
    readonly resolution: VerdictResolution | null;
  }[];
  /** Every action carried out, one entry each, with its actor and cause. */
  readonly actions: readonly ReportedAction[];
  /** The rollbacks of the primary (a view of `actions`). */
  readonly rollbacks: readonly ReportedAction[];
  /** The re-forks of shadows (a view of `actions`). */
  readonly reforks: readonly ReportedAction[];
  /** Every alert that fired, and what resolved it (null: still open, with why in `openBecause`). */
  readonly alerts: readonly {
    readonly vm: string;
    readonly name: string;
    readonly severity: string;
    readonly epoch: number;
    readonly reason: string;
    readonly resolvedEpoch: number | null;
    readonly resolution: string | null;
  }[];
  readonly checkpoints: readonly {
    readonly id: string;
    readonly epoch: number;
    readonly verified: boolean;
    readonly storedPages: number;
    readonly totalPages: number;
  }[];
  readonly events: readonly ComputationEvent[];
  readonly replicas: readonly ReplicaSummary[];
  /** Replicas blamed, and how their diversity profile differs from the reference they are compared with. */
  readonly attribution: readonly Attribution[];
  readonly timings: { readonly wallMs: number; readonly epochsPerSecond: number };
  readonly log: { readonly bytesLogged: number; readonly fullCaptureBytes: number; readonly ratio: number; readonly inputRecords: number };
}

export interface ReportedAction {
  readonly epoch: number;
  readonly kind: string;
  readonly vm: string | null;
  readonly actor: string;
  readonly cause: ActionCause;
  readonly reason: string;
  readonly status: string;
  readonly outcome: string;
}

/**
 * A replica found diverging, with the dimensions in which its profile differs from the profile it
 * was compared with: none means both ran the same configuration, so the cause is not the profile.
 * With deterministic replicas the vote says who diverged (the reference is the majority); with
 * free-running ones a failing pair cannot say which side is wrong, and the shadow is named
 * against the primary.
 */
export interface Attribution {
  readonly vm: string;
  readonly profile: string;
  readonly epochs: readonly number[];
  readonly basis: 'vote' | 'drift';
  /** The profile it is compared with: the majority's (vote) or the primary's (drift). */
  readonly reference: string;
  readonly differsIn: readonly { readonly dimension: string; readonly replica: string; readonly reference: string }[];
}

/** Exit codes for ends that are not the guest's own exit (documented in README). */
export const EXIT_CODES = { trap: 134, oom: 137, runaway: 124, killed: 143, error: 1 } as const;

export function exitCodeOf(end: ComputationResult['end']): number {
  return end.kind === 'exit' ? end.code : EXIT_CODES[end.kind];
}

export function buildReport(input: {
  result: ComputationResult;
  driver: string;
  image: string;
  moduleHash: string;
  args: readonly string[];
  endpoints: readonly Endpoint[];
  recorder: Pick<StoreRecorder, 'divergences' | 'verdicts' | 'events' | 'actions' | 'checkpoints' | 'alerts'>;
  agreement: Agreement;
}): ComputationReport {
  const { result, recorder } = input;
  const actions: ReportedAction[] = recorder.actions.map((a) => ({
    epoch: a.epoch,
    kind: a.kind,
    vm: a.vmId,
    actor: a.actor,
    cause: a.cause,
    reason: a.reason,
    status: a.status,
    outcome: a.outcome,
  }));
  const applied = (kind: string) => actions.filter((a) => a.kind === kind && a.status === 'applied' && !a.outcome.startsWith('covered'));
  return {
    computationId: result.id,
    driver: input.driver,
    image: input.image,
    moduleHash: input.moduleHash,
    args: input.args,
    end: describeEnd(result.end),
    exitCode: exitCodeOf(result.end),
    epochs: result.epochs,
    verifiedEpochs: result.verifiedEpochs,
    endpoints: input.endpoints,
    divergences: recorder.divergences.map((d) => ({
      epoch: d.epoch,
      attempt: d.attempt,
      vm: d.vmId,
      peer: d.peerVmId,
      pages: d.difference.pages.length,
      pageSample: d.difference.pages.slice(0, 16),
      diffBytes: d.diffBytes,
      registers: d.difference.registers.map((r) => r.name),
      outputs: d.difference.outputs.map((o) => o.stream),
      ...(d.difference.end ? { end: d.difference.end } : {}),
      ...(d.inputMismatch ? { inputMismatch: d.inputMismatch } : {}),
    })),
    verdicts: recorder.verdicts.map(({ epoch, attempt, kind, blamed, majority, differing, resolution }) => ({
      epoch,
      attempt,
      kind,
      blamed,
      majority,
      differing,
      resolution,
    })),
    actions,
    rollbacks: [...applied('rollback'), ...applied('retry')].sort((a, b) => a.epoch - b.epoch),
    reforks: applied('refork'),
    alerts: recorder.alerts().map((a) => ({
      vm: a.vmId,
      name: a.name,
      severity: a.severity,
      epoch: a.epoch,
      reason: a.reason,
      resolvedEpoch: a.resolvedEpoch,
      resolution: a.resolution,
    })),
    checkpoints: recorder.checkpoints.map((c) => ({
      id: c.id,
      epoch: c.epoch,
      verified: c.verified,
      storedPages: c.storedPages,
      totalPages: c.totalPages,
    })),
    events: recorder.events,
    replicas: result.replicas,
    attribution:
      input.agreement === 'exact' ? attributeVotes(result.replicas, recorder.verdicts) : attributeDrift(result.replicas, actions),
    timings: { wallMs: Math.round(result.wallMs), epochsPerSecond: result.epochs / Math.max(result.wallMs / 1000, 1e-9) },
    log: {
      bytesLogged: result.loggedBytes,
      fullCaptureBytes: result.fullCaptureBytes,
      ratio: result.fullCaptureBytes > 0 ? result.loggedBytes / result.fullCaptureBytes : 0,
      inputRecords: result.inputRecords,
    },
  };
}

/** Replicas the vote outvoted, against the majority that outvoted them. */
function attributeVotes(replicas: readonly ReplicaSummary[], verdicts: readonly VerdictEntry[]): Attribution[] {
  const blamed = new Map<string, { epochs: Set<number>; reference: string }>();
  for (const verdict of verdicts) {
    const reference = verdict.majority[0];
    if (reference === undefined) continue;
    for (const vm of verdict.blamed) {
      const entry = blamed.get(vm) ?? { epochs: new Set<number>(), reference };
      blamed.set(vm, { ...entry, epochs: entry.epochs.add(verdict.epoch) });
    }
  }
  return [...blamed].flatMap(([vm, { epochs, reference }]) => attribution(replicas, vm, reference, 'vote', epochs));
}

/** Free-running replicas the policy recovered for their drift, against the primary. */
function attributeDrift(replicas: readonly ReplicaSummary[], actions: readonly ReportedAction[]): Attribution[] {
  const primary = replicas.find((r) => r.role === 'primary');
  const epochsByVm = new Map<string, Set<number>>();
  for (const action of actions) {
    if (action.cause.kind !== 'prediction' || action.cause.level !== 'predict-failure' || action.vm === null) continue;
    if (!action.vm.includes('/shadow')) continue;
    epochsByVm.set(action.vm, (epochsByVm.get(action.vm) ?? new Set<number>()).add(action.epoch));
  }
  return primary === undefined ? [] : [...epochsByVm].flatMap(([vm, epochs]) => attribution(replicas, vm, primary.id, 'drift', epochs));
}

function attribution(
  replicas: readonly ReplicaSummary[],
  vmId: string,
  referenceId: string,
  basis: Attribution['basis'],
  epochs: Set<number>,
): Attribution[] {
  const replica = replicas.find((r) => r.id === vmId);
  const reference = replicas.find((r) => r.id === referenceId);
  if (replica === undefined || reference === undefined) return [];
  const names = [...new Set([...Object.keys(reference.dimensions), ...Object.keys(replica.dimensions)])].sort();
  const differsIn = names
    .filter((name) => reference.dimensions[name] !== replica.dimensions[name])
    .map((dimension) => ({ dimension, replica: replica.dimensions[dimension] ?? '-', reference: reference.dimensions[dimension] ?? '-' }));
  return [
    { vm: vmId, profile: replica.profile, epochs: [...epochs].sort((x, y) => x - y), basis, reference: reference.profile, differsIn },
  ];
}
