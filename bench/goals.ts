// Every performance and accuracy promise of the project with its number: the one table that the
// bench lines are checked against and that docs/SPECIFICATION.md states (goals.test.ts holds the
// two equal). A number here is never relaxed to make a run pass: a miss stays a miss until the
// code meets it.

export type SuiteName = 'digest' | 'instrument' | 'shadowing' | 'checkpoints' | 'service' | 'qemu';

/** The issue that will measure a promise no suite measures yet. */
export type Issue = 'F' | 'G' | 'H' | 'I' | 'J';

interface GoalDefinition {
  /** What is promised: the bench line that measures it prints these words (or will). */
  readonly promise: string;
  readonly bound: '≥' | '≤' | '=';
  readonly value: number;
  readonly unit: string;
  readonly measuredBy: { readonly suite: SuiteName } | { readonly issue: Issue };
}

export interface Goal extends GoalDefinition {
  /** Its name in the specification's tables. */
  readonly id: string;
}

const measured = (suite: SuiteName) => ({ suite });
const issue = (name: Issue) => ({ issue: name });

function withIds<T extends Record<string, GoalDefinition>>(definitions: T): { readonly [K in keyof T]: T[K] & { readonly id: K } } {
  return Object.fromEntries(Object.entries(definitions).map(([id, goal]) => [id, { id, ...goal }])) as {
    readonly [K in keyof T]: T[K] & { readonly id: K };
  };
}

export const GOALS = withIds({
  digestThroughput: { promise: 'page digest / faster memcpy', bound: '≥', value: 0.4, unit: '×', measuredBy: measured('digest') },
  instrumentOverhead: {
    promise: 'instrumented / bare CPU time, each bench guest',
    bound: '≤',
    value: 1.15,
    unit: '×',
    measuredBy: measured('instrument'),
  },
  instrumentBuild: {
    promise: 'instrumentation build time per MB of module, each bench guest',
    bound: '≤',
    value: 5,
    unit: 's/MB',
    measuredBy: measured('instrument'),
  },
  shadowedWallTime: {
    promise: 'shadowed primary wall time / bare (1 shadow)',
    bound: '≤',
    value: 1.1,
    unit: '×',
    measuredBy: measured('shadowing'),
  },
  logBytes: {
    promise: 'log bytes / full-capture bytes (healthy run)',
    bound: '≤',
    value: 0.001,
    unit: '×',
    measuredBy: measured('shadowing'),
  },
  forkTime: { promise: 'fork of a checkpointed 1 GiB VM', bound: '≤', value: 20, unit: 'ms', measuredBy: measured('checkpoints') },
  checkpointPause: {
    promise: 'checkpoint pause, 256 MiB with 1% dirty pages',
    bound: '≤',
    value: 5,
    unit: 'ms',
    measuredBy: measured('checkpoints'),
  },
  serviceComputations: {
    promise: 'service: computations that succeeded of 100',
    bound: '=',
    value: 100,
    unit: '',
    measuredBy: measured('service'),
  },
  qemuClonePause: {
    promise: 'qemu: clone of a running 256 MiB guest, primary pause',
    bound: '≤',
    value: 50,
    unit: 'ms',
    measuredBy: measured('qemu'),
  },

  fleetWallTime: { promise: 'remote / local shadowed wall time', bound: '≤', value: 1.05, unit: '×', measuredBy: issue('F') },
  fleetInputLog: {
    promise: 'input-log records through JetStream / plain acked publishes of the same size to the same R3 stream',
    bound: '≥',
    value: 0.5,
    unit: '×',
    measuredBy: issue('F'),
  },
  fleetLostComputations: {
    promise: '300 computations × 2 shadows over 3 agents: computations lost',
    bound: '=',
    value: 0,
    unit: '',
    measuredBy: issue('F'),
  },
  fleetFalseAgentLoss: {
    promise: '300 computations × 2 shadows over 3 agents: agents falsely declared lost',
    bound: '=',
    value: 0,
    unit: '',
    measuredBy: issue('F'),
  },

  recoveryLateFault: {
    promise: 'recovery time, fault at epoch 200 / fault at epoch 10',
    bound: '≤',
    value: 1.2,
    unit: '×',
    measuredBy: issue('G'),
  },
  recoveryQuietGuest: {
    promise: 'recovery time, fault at epoch 200 / fault at epoch 10, guest with no syscall for 100+ epochs',
    bound: '≤',
    value: 1.2,
    unit: '×',
    measuredBy: issue('G'),
  },
  wasmRollback: {
    promise: 'rollback of a 256 MiB wasm guest, thread profile, from pages in memory',
    bound: '≤',
    value: 100,
    unit: 'ms',
    measuredBy: issue('G'),
  },
  qemuRollback: { promise: 'qemu: rollback', bound: '≤', value: 1, unit: 's', measuredBy: issue('G') },
  promotion: { promise: 'promotion of a shadow to primary', bound: '≤', value: 50, unit: 'ms', measuredBy: issue('G') },
  checkpointPauseFullState: {
    promise: 'checkpoint pause with stack and WASI state, 256 MiB with 1% dirty pages',
    bound: '≤',
    value: 5,
    unit: 'ms',
    measuredBy: issue('G'),
  },
  reforkRejoin: { promise: 'barriers until a re-forked shadow rejoins', bound: '≤', value: 1, unit: 'barrier', measuredBy: issue('G') },

  failuresPredicted: { promise: 'failures predicted before they happen', bound: '≥', value: 95, unit: '%', measuredBy: issue('H') },
  falseAlarms: {
    promise: 'false alarms per 10,000 healthy epochs',
    bound: '≤',
    value: 1,
    unit: '',
    measuredBy: issue('H'),
  },
  nabStandard: { promise: 'NAB score, full corpus, standard profile', bound: '≥', value: 76, unit: '', measuredBy: issue('H') },
  nabLowFalsePositives: {
    promise: 'NAB score, full corpus, reward-low-FP profile',
    bound: '≥',
    value: 68,
    unit: '',
    measuredBy: issue('H'),
  },
  nabLowFalseNegatives: {
    promise: 'NAB score, full corpus, reward-low-FN profile',
    bound: '≥',
    value: 81,
    unit: '',
    measuredBy: issue('H'),
  },
  detectorRate: {
    promise: 'detector throughput per core, files of 20,000+ points',
    bound: '≥',
    value: 1_000_000,
    unit: 'points/s',
    measuredBy: issue('H'),
  },

  soakRss: { promise: 'RSS growth over a 30 min soak', bound: '≤', value: 5, unit: '%', measuredBy: issue('I') },
  soakHandles: { promise: 'open handles growth over a 30 min soak', bound: '≤', value: 5, unit: '%', measuredBy: issue('I') },
  soakLeaks: { promise: 'processes and files leaked by a 30 min soak', bound: '=', value: 0, unit: '', measuredBy: issue('I') },
  fuzzTime: { promise: 'CI time of each fuzz target', bound: '≤', value: 60, unit: 's', measuredBy: issue('I') },

  releaseAtOnceThroughput: {
    promise: 'release-at-once throughput / alone',
    bound: '≥',
    value: 0.8,
    unit: '×',
    measuredBy: issue('J'),
  },
  verifyFirstLatency: {
    promise: "verify-first p99 latency − alone's p99",
    bound: '≤',
    value: 2,
    unit: 'epoch lengths',
    measuredBy: issue('J'),
  },
  inputLogPerRequest: {
    promise: "input-log bytes per request / the request's bytes",
    bound: '≤',
    value: 1.1,
    unit: '×',
    measuredBy: issue('J'),
  },
});

export const ALL_GOALS: readonly Goal[] = Object.values(GOALS);

/** "≤ 1.1 ×", "≥ 1,000,000 points/s", "= 100". */
export function goalText(goal: Goal): string {
  const value = goal.value.toLocaleString('en-US', { maximumFractionDigits: 6 });
  return `${goal.bound} ${value}${goal.unit === '' ? '' : ` ${goal.unit}`}`;
}

export function meets(goal: Goal, value: number): boolean {
  if (goal.bound === '≥') return value >= goal.value;
  if (goal.bound === '≤') return value <= goal.value;
  return value === goal.value;
}

/** "`npm run bench -- digest`" or "not measured yet — issue F", as the specification states it. */
export function stateText(goal: Goal): string {
  return 'suite' in goal.measuredBy ? `\`npm run bench -- ${goal.measuredBy.suite}\`` : `not measured yet — issue ${goal.measuredBy.issue}`;
}
