// The report of one computation: what the CLI prints and writes with --report, and what the
// store keeps as the computation's final record. Built from the run's result and its events.

import type { Agreement } from '../drivers/types.js';
import { describeEnd } from '../drivers/vm-end.js';
import type { ActionRecord } from '../interventions/index.js';
import type { ComputationResult, ReplicaSummary } from './computation.js';
import type { CheckpointInfo, ComputationEvent, DivergenceRecord } from './ports.js';

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
  readonly divergences: readonly {
    readonly epoch: number;
    readonly vm: string;
    readonly pages: number;
    readonly pageSample: readonly number[];
    readonly registers: readonly string[];
    readonly outputs: readonly string[];
    readonly end?: { readonly primary: string; readonly shadow: string };
    readonly inputMismatch?: { readonly expected: string; readonly got: string };
  }[];
  readonly votes: readonly { readonly epoch: number; readonly message: string }[];
  readonly rollbacks: readonly { readonly epoch: number; readonly message: string }[];
  readonly reforks: readonly { readonly epoch: number; readonly message: string }[];
  readonly checkpoints: readonly {
    readonly id: string;
    readonly epoch: number;
    readonly verified: boolean;
    readonly storedPages: number;
    readonly totalPages: number;
  }[];
  readonly events: readonly ComputationEvent[];
  /** What the drift analysis decided and did: alerts, rollbacks, resource changes, with outcomes. */
  readonly interventions: readonly {
    readonly epoch: number;
    readonly vm: string;
    readonly kind: string;
    readonly level: string | null;
    readonly score: number;
    readonly reason: string;
    readonly outcome: string;
  }[];
  readonly replicas: readonly ReplicaSummary[];
  /** Shadows predicted to fail, and how their diversity profile differs from the primary's. */
  readonly attribution: readonly Attribution[];
  readonly timings: { readonly wallMs: number; readonly epochsPerSecond: number };
  readonly log: { readonly bytesLogged: number; readonly fullCaptureBytes: number; readonly ratio: number; readonly inputRecords: number };
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
  divergences: readonly DivergenceRecord[];
  events: readonly ComputationEvent[];
  checkpoints: readonly CheckpointInfo[];
  interventions: readonly ActionRecord[];
  agreement: Agreement;
}): ComputationReport {
  const { result, events } = input;
  const pick = (kind: ComputationEvent['kind']) => events.filter((e) => e.kind === kind).map(({ epoch, message }) => ({ epoch, message }));
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
    divergences: input.divergences.map((d) => ({
      epoch: d.epoch,
      vm: d.vmId,
      pages: d.difference.pages.length,
      pageSample: d.difference.pages.slice(0, 16),
      registers: d.difference.registers.map((r) => r.name),
      outputs: d.difference.outputs.map((o) => o.stream),
      ...(d.difference.end ? { end: d.difference.end } : {}),
      ...(d.inputMismatch ? { inputMismatch: d.inputMismatch } : {}),
    })),
    votes: pick('vote'),
    rollbacks: pick('rollback'),
    reforks: pick('refork'),
    checkpoints: input.checkpoints.map((c) => ({
      id: c.id,
      epoch: c.epoch,
      verified: c.verified,
      storedPages: c.storedPages,
      totalPages: c.totalPages,
    })),
    events,
    interventions: input.interventions.map((a) => ({
      epoch: a.epoch,
      vm: a.vm.id,
      kind: a.kind,
      level: a.level,
      score: Math.round(a.score * 1000) / 1000,
      reason: a.reason,
      outcome: `${a.outcome.status}: ${a.outcome.detail}`,
    })),
    replicas: result.replicas,
    attribution:
      input.agreement === 'exact' ? attributeVotes(result.replicas, events) : attributeDrift(result.replicas, input.interventions),
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
function attributeVotes(replicas: readonly ReplicaSummary[], events: readonly ComputationEvent[]): Attribution[] {
  const blamed = new Map<string, { epochs: Set<number>; reference: string }>();
  for (const event of events) {
    if (event.kind !== 'vote') continue;
    const faulty = stringList(event.detail?.faultyVms);
    const reference = stringList(event.detail?.majorityVms)[0];
    if (reference === undefined) continue;
    for (const vm of faulty) {
      const entry = blamed.get(vm) ?? { epochs: new Set<number>(), reference };
      blamed.set(vm, { ...entry, epochs: entry.epochs.add(event.epoch) });
    }
  }
  return [...blamed].flatMap(([vm, { epochs, reference }]) => attribution(replicas, vm, reference, 'vote', epochs));
}

/** Shadows of failing free-running pairs, against the primary. */
function attributeDrift(replicas: readonly ReplicaSummary[], interventions: readonly ActionRecord[]): Attribution[] {
  const primary = replicas.find((r) => r.role === 'primary');
  const epochsByVm = new Map<string, Set<number>>();
  for (const action of interventions) {
    if (action.level !== 'predict-failure' || action.vm.role !== 'shadow') continue;
    epochsByVm.set(action.vm.id, (epochsByVm.get(action.vm.id) ?? new Set<number>()).add(action.epoch));
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

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
