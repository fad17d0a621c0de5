// The policy file format, as zod schemas. Every object is strict so a misspelt key is an error
// rather than a silently ignored setting, and every field carries the fix a user should apply, so
// the one-line PolicyError can say what to write instead of what zod expected.

import * as z from 'zod';
import type { DetectorSpec, ModelSpec } from '../analysis/engine.js';
import { FEATURE_NAMES, isFeatureName } from '../analysis/features.js';
import { createDetector, detectorNames } from '../analysis/registry.js';
import { ShadowvmError } from '../errors.js';

export const ACTION_KINDS = ['alert', 'rollback', 'raise-memory', 'raise-cpu', 'raise-epoch-budget'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** The `raise-*` actions, each growing one resource limit of the primary. */
export type RaiseAction = Exclude<ActionKind, 'alert' | 'rollback'>;

/** What the forecaster can predict the crossing of: a limit of the VM. */
export const FORECAST_RESOURCES = ['memory', 'cpu'] as const;
export type ForecastResource = (typeof FORECAST_RESOURCES)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A field's fix: "is missing; it must be X" when absent, "must be X" when wrong. */
function must(what: string): { error: (issue: { readonly input?: unknown }) => string } {
  return {
    error: (issue) => (issue.input === undefined ? `is missing; it must be ${what}` : `must be ${what}`),
  };
}

function fraction() {
  const fix = must('a number between 0 and 1');
  return z.number(fix).min(0, fix).max(1, fix);
}

function wholeNumber(min: number, max: number) {
  const fix = must(`a whole number between ${min} and ${max}`);
  return z.number(fix).int(fix).min(min, fix).max(max, fix);
}

function growthFactor() {
  const fix = must('a number greater than 1 (1.5 means 50% more)');
  return z.number(fix).gt(1, fix).max(100, fix);
}

function positiveNumber() {
  const fix = must('a number greater than 0');
  return z.number(fix).gt(0, fix);
}

function httpUrl() {
  return z.url({ protocol: /^https?$/, ...must('an http:// or https:// URL') });
}

function nonEmptyText() {
  return z.string(must('a non-empty string')).min(1, must('a non-empty string'));
}

const actionKind = z.enum(ACTION_KINDS, must(`one of ${ACTION_KINDS.join(', ')}`));

const levelSchema = z
  .strictObject(
    {
      name: z
        .string(must('a short name such as "warn"'))
        .regex(/^[a-z][a-z0-9-]{0,39}$/, must('lowercase letters, digits and dashes, starting with a letter')),
      enter: fraction(),
      exit: fraction(),
      consecutive: wholeNumber(1, 10_000).default(1),
      actions: z.array(actionKind, must(`a list of actions (${ACTION_KINDS.join(', ')})`)).default([]),
      severity: z.enum(SEVERITIES, must(`one of ${SEVERITIES.join(', ')}`)).default('warning'),
    },
    must('a level { name, enter, exit, consecutive, actions, severity }'),
  )
  .superRefine((level, ctx) => {
    if (level.exit >= level.enter) {
      ctx.addIssue({
        code: 'custom',
        path: ['exit'],
        message: `must be lower than enter (${level.enter}) so the level does not flap between epochs`,
      });
    }
  });

const levelsSchema = z.array(levelSchema, must('a list of levels, mildest first')).superRefine((levels, ctx) => {
  const seen = new Set<string>();
  levels.forEach((level, i) => {
    if (seen.has(level.name)) {
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `must be unique ("${level.name}" is used twice)` });
    }
    seen.add(level.name);
    const previous = levels[i - 1];
    if (previous !== undefined && level.enter <= previous.enter) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'enter'],
        message: `must be higher than levels[${i - 1}].enter (${previous.enter}): levels go from mildest to most severe`,
      });
    }
  });
});

const forecastRuleSchema = z.strictObject(
  {
    horizonEpochs: wholeNumber(1, 1_000_000),
    action: actionKind,
    /** For raise-* actions; the resource's `raise` factor applies when absent. */
    factor: growthFactor().optional(),
  },
  must('{ horizonEpochs, action, factor }'),
);

const rateLimitSchema = z.strictObject(
  {
    max: wholeNumber(0, 1000),
    perEpochs: wholeNumber(1, 1_000_000),
  },
  must('{ max, perEpochs }'),
);

const raiseRuleSchema = z.strictObject(
  {
    factor: growthFactor().optional(),
    /** Ceiling in the limit's own unit (bytes, CPU share, guest events per epoch). */
    max: positiveNumber().optional(),
  },
  must('{ factor, max }'),
);

// `null` removes an inherited entry (e.g. an override that turns a forecast or a limit off).
const vmPolicyShape = {
  levels: levelsSchema.optional(),
  forecast: z
    .strictObject(
      {
        memory: forecastRuleSchema.nullable().optional(),
        cpu: forecastRuleSchema.nullable().optional(),
      },
      must('a mapping of memory and/or cpu forecast rules'),
    )
    .optional(),
  rateLimits: z
    .strictObject(
      {
        alert: rateLimitSchema.nullable().optional(),
        rollback: rateLimitSchema.nullable().optional(),
        'raise-memory': rateLimitSchema.nullable().optional(),
        'raise-cpu': rateLimitSchema.nullable().optional(),
        'raise-epoch-budget': rateLimitSchema.nullable().optional(),
      },
      must('a mapping from action to { max, perEpochs }'),
    )
    .optional(),
  raise: z
    .strictObject(
      {
        memory: raiseRuleSchema.optional(),
        cpu: raiseRuleSchema.optional(),
        epochBudget: raiseRuleSchema.optional(),
      },
      must('a mapping of memory, cpu and/or epochBudget to { factor, max }'),
    )
    .optional(),
  dryRun: z.boolean(must('true or false')).optional(),
};

const matchSchema = z
  .strictObject(
    {
      id: nonEmptyText().optional(),
      role: z.enum(['primary', 'shadow'], must('primary or shadow')).optional(),
      profile: nonEmptyText().optional(),
    },
    must('a mapping with id, role and/or profile'),
  )
  .refine((m) => m.id !== undefined || m.role !== undefined || m.profile !== undefined, {
    message: 'must name at least one of id, role, profile',
  });

const overrideSchema = z.strictObject(
  { match: matchSchema, ...vmPolicyShape },
  must('an override { match: { id | role | profile }, ...settings }'),
);

const deliverySchema = z.strictObject(
  {
    timeoutMs: wholeNumber(1, 600_000).optional(),
    maxAttempts: wholeNumber(1, 100).optional(),
    initialBackoffMs: wholeNumber(1, 600_000).optional(),
    maxBackoffMs: wholeNumber(1, 3_600_000).optional(),
    queueSize: wholeNumber(1, 100_000).optional(),
  },
  must('a mapping of timeoutMs, maxAttempts, initialBackoffMs, maxBackoffMs, queueSize'),
);

const alertsSchema = z.strictObject(
  {
    webhooks: z.array(httpUrl(), must('a list of http(s) URLs')).optional(),
    /** Alertmanager base URLs; alerts go to `{base}/api/v2/alerts`. */
    alertmanagers: z.array(httpUrl(), must('a list of http(s) URLs')).optional(),
    log: z.boolean(must('true or false')).optional(),
    /** Back-link placed in every Alertmanager alert (e.g. the dashboard of the computation). */
    generatorURL: httpUrl().optional(),
    delivery: deliverySchema.optional(),
  },
  must('a mapping of webhooks, alertmanagers, log, generatorURL, delivery'),
);

/** The detectors a policy file can name besides `onnx`: the registry's, as it is at start-up. */
const BUILT_IN_DETECTORS = detectorNames();

const modelDetectorSchema = z.strictObject(
  {
    detector: z.literal('onnx'),
    model: z
      .string(must('the path of an ONNX model file, relative to the policy file'))
      .min(1, must('the path of an ONNX model file, relative to the policy file')),
    window: wholeNumber(1, 100_000),
  },
  must('{ detector: onnx, model, window }'),
);

const builtInDetectorSchema = z
  .strictObject(
    {
      detector: z.enum(BUILT_IN_DETECTORS as [string, ...string[]]),
      options: z.record(z.string(), z.unknown(), must("a mapping of the detector's options")).optional(),
    },
    must('{ detector, options }'),
  )
  .superRefine((entry, ctx) => {
    // The detector checks its own options: building one is how a typo surfaces here, not mid-run.
    try {
      createDetector(entry.detector, entry.options);
    } catch (error) {
      if (!(error instanceof ShadowvmError)) throw error;
      ctx.addIssue({ code: 'custom', path: ['options'], message: `are not valid: ${error.message}` });
    }
  });

const featureDetectorSchema = z.discriminatedUnion('detector', [modelDetectorSchema, builtInDetectorSchema], {
  error: (issue) =>
    issue.code === 'invalid_union'
      ? `must be onnx (with model and window) or a built-in detector (${BUILT_IN_DETECTORS.join(', ')})`
      : 'must be a mapping { detector, ... }',
});

/** Per feature, the detector that scores it instead of the engine's default. */
const featureDetectorsSchema = z.record(z.string().refine(isFeatureName), featureDetectorSchema, {
  error: (issue) =>
    issue.code === 'invalid_key'
      ? `is not a feature; the features are ${FEATURE_NAMES.join(', ')} and extra.<driver counter>`
      : 'must be a mapping from feature name to { detector, ... }',
});

export const policyFileSchema = z.strictObject(
  {
    ...vmPolicyShape,
    detectors: featureDetectorsSchema.optional(),
    alerts: alertsSchema.optional(),
    overrides: z.array(overrideSchema, must('a list of { match: {...}, ...settings }')).optional(),
  },
  must('a mapping of settings (levels, forecast, rateLimits, raise, dryRun, detectors, alerts, overrides)'),
);

export type PolicyFile = z.output<typeof policyFileSchema>;
export type Level = z.output<typeof levelSchema>;
export type ForecastRule = z.output<typeof forecastRuleSchema>;
export type RateLimit = z.output<typeof rateLimitSchema>;
export type VmMatch = z.output<typeof matchSchema>;

/** The settings of one VM as a file or an override states them: absent keys inherit. */
export type VmPolicyPatch = Pick<PolicyFile, keyof typeof vmPolicyShape>;

export type RaiseResource = 'memory' | 'cpu' | 'epochBudget';

export interface RaiseRule {
  readonly factor: number;
  readonly max?: number;
}

/** Every setting that applies to one VM, fully resolved. */
export interface VmPolicy {
  readonly levels: readonly Level[];
  readonly forecast: Readonly<Partial<Record<ForecastResource, ForecastRule>>>;
  readonly rateLimits: Readonly<Partial<Record<ActionKind, RateLimit>>>;
  readonly raise: Readonly<Record<RaiseResource, RaiseRule>>;
  readonly dryRun: boolean;
}

export interface PolicyOverride {
  readonly match: VmMatch;
  readonly patch: VmPolicyPatch;
}

export interface DeliverySettings {
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly queueSize: number;
}

export interface AlertSettings {
  readonly webhooks: readonly string[];
  readonly alertmanagers: readonly string[];
  readonly log: boolean;
  readonly generatorURL?: string;
  readonly delivery: DeliverySettings;
}

/** A computation's policy: its defaults, per-VM overrides, the detectors it names, and where alerts go. */
export interface Policy {
  /** Where it came from (file name or "built-in defaults"), for messages. */
  readonly source: string;
  readonly defaults: VmPolicy;
  readonly overrides: readonly PolicyOverride[];
  /** Per feature name, what scores it instead of the engine's default; model paths are absolute. */
  readonly detectors: Readonly<Record<string, DetectorSpec | ModelSpec>>;
  readonly alerts: AlertSettings;
}
