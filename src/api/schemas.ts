// Every route of the API in one table: method, path, and the zod schemas of its parameters, query,
// body and response. The same schemas validate requests (src/api/validation.ts) and become the
// OpenAPI 3.1 document (src/api/openapi.ts), so the two cannot disagree.

import { z } from 'zod';
import { COMPUTATION_STATUSES } from '../store/types.js';

const computationId = z.string().regex(/^c-[a-z0-9]{10}$/, 'must be a computation id like c-0123456789');

export const ErrorSchema = z.object({
  code: z.string().describe('stable machine-readable code'),
  message: z.string().describe('one line for people'),
});

const count = (max: number) => z.coerce.number().int().min(0).max(max);

const FaultSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('bitflip'),
    bit: z.number().int().min(0).max(7),
    address: z.number().int().min(0).optional().describe('byte address in guest memory; a spot inside used memory when absent'),
  }),
  z.strictObject({ kind: z.literal('corrupt-input'), seq: z.number().int().min(0).describe('input record a shadow gets corrupted') }),
]);

const PlannedFaultSchema = z.strictObject({
  target: z.string().regex(/^(primary|shadow[1-9][0-9]*)$/, 'must be primary, shadow1, shadow2…'),
  epoch: z.number().int().min(1),
  fault: FaultSchema,
});

/** A policy as a document (the policy file's mapping) or as YAML/JSON text. */
const PolicyInputSchema = z
  .union([z.string(), z.record(z.string(), z.unknown())])
  .describe('policy file content: YAML/JSON text or the mapping itself');

/** What every computation takes, whatever runs its replicas. */
const RunFields = {
  shadows: z.number().int().min(0).max(16).default(2),
  profiles: z
    .array(z.string())
    .default([])
    .describe('diversity profile of each shadow in turn (wasm: thread/v8, process/liftoff, process/turbofan)'),
  epochMs: z
    .number()
    .min(0)
    .optional()
    .describe("wasm: the primary also ends an epoch at an input after this long; qemu: an epoch's wall-clock length"),
  checkpointEvery: z.number().int().min(1).optional(),
  memoryBytes: z.number().int().positive().optional().describe('guest memory limit (default: wasm 1 GiB, qemu 128 MiB of guest RAM)'),
  maxEpochs: z.number().int().positive().optional(),
  timeoutMs: z.number().positive().optional(),
  faults: z.array(PlannedFaultSchema).default([]),
  policy: PolicyInputSchema.optional(),
};

const WasmStartSchema = z.strictObject({
  driver: z.literal('wasm').default('wasm').describe('what runs the replicas: wasm (the default) or qemu'),
  guest: z.string().min(1).describe("guest module path, relative to the server's guests directory"),
  args: z.array(z.string()).max(256).default([]),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
  stdin: z
    .string()
    .max(64 * 2 ** 20)
    .optional()
    .describe("the primary's whole stdin (text)"),
  epochEvents: z.number().int().min(0).optional(),
  epochSyscalls: z.number().int().min(0).optional(),
  ...RunFields,
});

// The kernel command line is the driver's (console, record/replay); a request tunes only the
// workload, whose parameters are shadowvm.* (guests/linux/init.sh), one word each.
const WorkloadParameterSchema = z
  .string()
  .max(200)
  .regex(/^shadowvm\.[a-z][a-z0-9_-]*=[A-Za-z0-9_.,:+-]*$/, 'must be a workload parameter shadowvm.NAME=VALUE, e.g. shadowvm.rounds=20');

const QemuStartSchema = z.strictObject({
  driver: z.literal('qemu'),
  mode: z
    .enum(['lockstep', 'free'])
    .default('lockstep')
    .describe("lockstep: shadows replay the primary's recording; free: shadows are clones running beside it (mirrored HTTP)"),
  image: z
    .string()
    .min(1)
    .optional()
    .describe("guest image directory, relative to the server's images directory; the built default guest when absent"),
  kernelArgs: z.array(WorkloadParameterSchema).max(32).default([]).describe("the guest workload's kernel parameters"),
  ...RunFields,
});

export const CreateComputationSchema = z.discriminatedUnion('driver', [WasmStartSchema, QemuStartSchema], {
  error: 'must be wasm (the default) or qemu',
});
export type CreateComputationBody = z.infer<typeof CreateComputationSchema>;

const PhaseSchema = z.enum(['queued', 'running', 'finished']);

const ThresholdSchema = z.object({ name: z.string(), enter: z.number(), exit: z.number() });

const EndpointSchema = z.object({
  name: z.string(),
  url: z.string(),
  note: z.string().describe('what happens to what arrives there'),
});

const LiveSchema = z.object({
  phase: PhaseSchema,
  epoch: z.number().int(),
  replicas: z.array(z.object({ name: z.string(), vmId: z.string(), role: z.enum(['primary', 'shadow']), profile: z.string() })),
  scores: z.record(z.string(), z.number()),
  thresholds: z.record(z.string(), z.array(ThresholdSchema)),
  endpoints: z
    .array(EndpointSchema)
    .describe("where the outside world reaches the primary while it runs (free mode's mirrored HTTP server)"),
});

export const ComputationSchema = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  status: z.enum(COMPUTATION_STATUSES),
  exitCode: z.number().int().nullable(),
  config: z.unknown(),
  report: z.unknown().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  live: LiveSchema.nullable().describe('what the running manager knows; null for computations of an earlier process'),
});

const CountsSchema = z.object({ queued: z.number().int(), running: z.number().int(), finished: z.number().int() });

const VmSchema = z.object({
  vmId: z.string(),
  role: z.enum(['primary', 'shadow']),
  profile: z.object({ name: z.string(), dimensions: z.record(z.string(), z.string()) }),
  status: z.enum(['starting', 'running', 'ended']),
  end: z.unknown().nullable(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  score: z.number().nullable().describe('latest failure-prediction score'),
});

const EpochViewSchema = z.object({
  epoch: z.number().int(),
  attempt: z.number().int().describe('1 for the first resolution of this epoch; a recovery re-resolves it'),
  verified: z.boolean(),
  at: z.number(),
  vms: z.record(z.string(), z.object({ instructions: z.number(), runMs: z.number(), memoryBytes: z.number(), lagMs: z.number() })),
});

const DivergenceViewSchema = z.object({
  id: z.number().int(),
  epoch: z.number().int(),
  attempt: z.number().int(),
  vmId: z.string().describe('the replica compared (a shadow)'),
  peerVmId: z.string().describe('the replica it was compared with (the primary)'),
  kind: z.enum(['pages', 'registers', 'output', 'exit', 'input']),
  summary: z.string(),
  pageCount: z.number().int(),
  pages: z.array(z.number().int()).describe('pages whose deltas are stored'),
  deltaBytes: z.number().int(),
  at: z.number(),
});

export const VerdictSchema = z.object({
  id: z.number().int(),
  epoch: z.number().int(),
  attempt: z.number().int(),
  kind: z.enum(['shadows-diverged', 'primary-diverged', 'undecided']),
  blamed: z.array(z.string()).describe('VM ids the vote outvoted'),
  majority: z.array(z.string()),
  differing: z.array(z.string()).describe('undecided: the VM ids re-executed'),
  resolution: z
    .object({ attempt: z.number().int(), kind: z.enum(['blamed', 'transient', 'dropped']), blamed: z.array(z.string()) })
    .nullable()
    .describe('how a later attempt settled an undecided verdict'),
  at: z.number(),
});

export const ActionSchema = z.object({
  id: z.number().int(),
  epoch: z.number().int(),
  kind: z.string(),
  vmId: z.string().nullable().describe('the VM acted on'),
  actor: z.enum(['vote', 'policy', 'api', 'cli', 'manager']),
  cause: z.record(z.string(), z.unknown()).describe('the verdict, prediction or request the action answers'),
  reason: z.string(),
  status: z.string(),
  outcome: z.string(),
  dryRun: z.boolean(),
  at: z.number(),
});

const EventSchema = z.object({
  id: z.number().int(),
  vmId: z.string().nullable(),
  epoch: z.number().int().nullable(),
  kind: z.string(),
  message: z.string(),
  detail: z.unknown().nullable(),
  at: z.number(),
});

export const AlertSchema = z.object({
  id: z.number().int(),
  vmId: z.string(),
  name: z.string(),
  severity: z.string(),
  epoch: z.number().int(),
  reason: z.string(),
  firedAt: z.number(),
  resolvedEpoch: z.number().int().nullable(),
  resolvedAt: z.number().nullable(),
  resolution: z.string().nullable().describe('what resolved it; null while it stays open'),
});

/** The computation's timeline: what the vote found, what was done, what happened, in the order it happened. */
const TimelineEntrySchema = z.discriminatedUnion('type', [
  VerdictSchema.extend({ type: z.literal('verdict') }),
  ActionSchema.extend({ type: z.literal('action') }),
  EventSchema.extend({ type: z.literal('event') }),
]);

const PredictionSchema = z.object({
  id: z.number().int(),
  computationId: z.string(),
  vmId: z.string(),
  epoch: z.number().int(),
  detector: z.string(),
  score: z.number(),
  level: z.enum(['warning', 'failure']),
  at: z.number(),
});

const CheckpointSchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  epoch: z.number().int(),
  parentId: z.string().nullable(),
  verified: z.boolean(),
  pageCount: z.number().int(),
  storedPages: z.number().int().describe('pages stored with this checkpoint (differences from its parent)'),
  rootDigest: z.string(),
  createdAt: z.number(),
});

const LogStatsSchema = z.object({
  epochs: z.number().int(),
  divergences: z.number().int(),
  pageDeltas: z.number().int(),
  metricsBytes: z.number().int(),
  divergenceBytes: z.number().int(),
  deltaBytes: z.number().int(),
  bytesLogged: z.number().int(),
  fullCaptureBytes: z.number().int(),
});

const LogPageSchema = z.object({
  computation: z.object({ id: z.string(), name: z.string(), status: z.string(), exitCode: z.number().int().nullable() }),
  epochs: z.array(EpochViewSchema),
  divergences: z.array(DivergenceViewSchema),
  verdicts: z.array(VerdictSchema),
  actions: z.array(ActionSchema),
  events: z.array(EventSchema),
  alerts: z.array(AlertSchema),
  stats: LogStatsSchema,
  next: z.number().int().nullable().describe('pass as `from` for the next page; null on the last'),
});

const PolicyViewSchema = z.object({
  source: z.string(),
  policy: z.unknown().describe('the policy in force (defaults, overrides, alerts)'),
  thresholds: z.record(z.string(), z.array(ThresholdSchema)),
});

const IdParams = z.strictObject({ id: computationId });
const RangeQuery = z.strictObject({ from: count(1e9).optional(), to: count(1e9).optional() });

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly url: string;
  readonly summary: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly status: number;
  readonly response: z.ZodType;
}

function route<const T extends RouteSpec>(spec: T): T {
  return spec;
}

/** The API; keys are the OpenAPI operation ids. */
export const ROUTES = {
  createComputation: route({
    method: 'POST',
    url: '/api/computations',
    summary: 'Queue a computation (it starts when a slot is free)',
    body: CreateComputationSchema,
    status: 202,
    response: z.object({
      computation: ComputationSchema,
      eventId: z.number().int().describe('last event id before it: resume /events from here'),
    }),
  }),
  listComputations: route({
    method: 'GET',
    url: '/api/computations',
    summary: 'Computations, newest first, with the queue counts',
    query: z.strictObject({
      status: z.enum(COMPUTATION_STATUSES).optional(),
      limit: count(1000).default(50),
      offset: count(1e9).default(0),
    }),
    status: 200,
    response: z.object({ items: z.array(ComputationSchema), counts: CountsSchema, concurrency: z.number().int() }),
  }),
  getComputation: route({
    method: 'GET',
    url: '/api/computations/:id',
    summary: 'One computation, its report and live state',
    params: IdParams,
    status: 200,
    response: ComputationSchema,
  }),
  cancelComputation: route({
    method: 'POST',
    url: '/api/computations/:id/cancel',
    summary: 'Cancel a queued or running computation',
    params: IdParams,
    body: z
      .strictObject({ reason: z.string().max(500).default('cancelled by an operator') })
      .default({ reason: 'cancelled by an operator' }),
    status: 202,
    response: z.object({ ok: z.literal(true) }),
  }),
  listVms: route({
    method: 'GET',
    url: '/api/computations/:id/vms',
    summary: 'VMs of a computation (every generation) and their state',
    params: IdParams,
    status: 200,
    response: z.object({ items: z.array(VmSchema) }),
  }),
  readLog: route({
    method: 'GET',
    url: '/api/computations/:id/log',
    summary: 'Differential log by epoch range, `limit` epochs per page',
    params: IdParams,
    query: z.strictObject({
      from: count(1e9).optional(),
      to: count(1e9).optional(),
      limit: z.coerce.number().int().min(1).max(10_000).default(500),
    }),
    status: 200,
    response: LogPageSchema,
  }),
  listCheckpoints: route({
    method: 'GET',
    url: '/api/computations/:id/checkpoints',
    summary: 'Checkpoints, oldest first, with verified marks',
    params: IdParams,
    status: 200,
    response: z.object({ items: z.array(CheckpointSchema) }),
  }),
  listPredictions: route({
    method: 'GET',
    url: '/api/computations/:id/predictions',
    summary: 'Failure predictions by epoch range',
    params: IdParams,
    query: RangeQuery,
    status: 200,
    response: z.object({ items: z.array(PredictionSchema) }),
  }),
  listVerdicts: route({
    method: 'GET',
    url: '/api/computations/:id/verdicts',
    summary: 'Votes at epochs whose replicas differed: the blamed VMs, or undecided and how a later attempt settled it',
    params: IdParams,
    query: RangeQuery,
    status: 200,
    response: z.object({ items: z.array(VerdictSchema) }),
  }),
  listActions: route({
    method: 'GET',
    url: '/api/computations/:id/actions',
    summary: 'Actions taken (rollback, re-fork, retry, resources, alert), one each, with actor, cause and the VM acted on',
    params: IdParams,
    query: RangeQuery,
    status: 200,
    response: z.object({ items: z.array(ActionSchema) }),
  }),
  listAlerts: route({
    method: 'GET',
    url: '/api/computations/:id/alerts',
    summary: 'Alerts by the epoch they fired, open ones included, with what resolved the others',
    params: IdParams,
    query: RangeQuery,
    status: 200,
    response: z.object({ items: z.array(AlertSchema) }),
  }),
  readTimeline: route({
    method: 'GET',
    url: '/api/computations/:id/timeline',
    summary: 'Verdicts, actions and events, oldest first',
    params: IdParams,
    query: RangeQuery,
    status: 200,
    response: z.object({ items: z.array(TimelineEntrySchema) }),
  }),
  requestRollback: route({
    method: 'POST',
    url: '/api/computations/:id/rollback',
    summary: 'Roll the primary back to its last verified checkpoint at the next barrier',
    params: IdParams,
    body: z
      .strictObject({ reason: z.string().min(1).max(500).default('manual rollback by an operator') })
      .default({ reason: 'manual rollback by an operator' }),
    status: 202,
    response: z.object({ ok: z.literal(true) }),
  }),
  injectFault: route({
    method: 'POST',
    url: '/api/computations/:id/faults',
    summary: 'Inject a fault into a replica at the end of its next epoch',
    params: IdParams,
    body: z.strictObject({
      target: z.string().regex(/^(primary|shadow[1-9][0-9]*)$/, 'must be primary, shadow1, shadow2…'),
      fault: FaultSchema,
    }),
    status: 202,
    response: z.object({ target: z.string(), fault: z.unknown() }),
  }),
  getPolicy: route({
    method: 'GET',
    url: '/api/computations/:id/policy',
    summary: 'Thresholds and interventions in force',
    params: IdParams,
    status: 200,
    response: PolicyViewSchema,
  }),
  setPolicy: route({
    method: 'PUT',
    url: '/api/computations/:id/policy',
    summary: 'Replace thresholds and interventions at run time',
    params: IdParams,
    body: z.strictObject({ policy: PolicyInputSchema }),
    status: 200,
    response: PolicyViewSchema,
  }),
} as const;

export type RouteId = keyof typeof ROUTES;

/** Routes outside the JSON table, listed in the OpenAPI document too. */
export const EXTRA_PATHS = {
  '/events': {
    summary:
      'Server-Sent Events: status, endpoints, epoch, divergence, verdict (as GET …/verdicts), score, prediction, intervention (an action, as GET …/actions), event, output, end; resume with Last-Event-ID',
    contentType: 'text/event-stream',
  },
  '/metrics': { summary: 'Prometheus metrics per computation and VM', contentType: 'text/plain' },
  '/openapi.json': { summary: 'This document', contentType: 'application/json' },
} as const;
