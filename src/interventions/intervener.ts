// Carries out Decisions: rate limits first (so a dry run shows the throttling a real run would
// get), then dry-run, then the target or the alert sinks. Every planned action yields exactly one
// record, whatever happened to it, so the action log explains every prediction.

import type { ResourceLimits } from '../drivers/types.js';
import type { Decision, PlannedAction } from '../policy/decision.js';
import type { VmIdentity } from '../policy/resolve.js';
import type { ActionKind, RaiseAction, Severity } from '../policy/schema.js';
import type { Alert, Alerter } from './alert.js';
import { RateLimiter, type RateLimiterState } from './rate-limiter.js';
import type { InterventionTarget } from './target.js';

export type ActionStatus = 'applied' | 'failed' | 'skipped' | 'rate-limited' | 'dry-run' | 'queued';

export interface ActionRecord {
  /** The decision, and the one of its actions, this record is about. */
  readonly decision: Decision;
  readonly action: PlannedAction;
  readonly computation: string;
  readonly vm: VmIdentity;
  readonly epoch: number;
  readonly kind: ActionKind;
  /** The VM's level after the decision. */
  readonly level: string | null;
  readonly score: number;
  readonly reason: string;
  /** `queued` for alerts: handed to the sinks, which deliver in the background. */
  readonly outcome: { readonly status: ActionStatus; readonly detail: string };
  readonly dryRun: boolean;
  /** ISO 8601. */
  readonly time: string;
}

export interface IntervenerOptions {
  readonly computation: string;
  readonly target: InterventionTarget;
  readonly alerters: readonly Alerter[];
  /** Receives every record as soon as its action is done. */
  readonly record?: (entry: ActionRecord) => void;
  /** What `saveState()` returned, so rate limits survive a restart. */
  readonly state?: unknown;
  readonly now?: () => Date;
}

export type IntervenerState = RateLimiterState;

type Outcome = ActionRecord['outcome'];

const RAISED_LIMIT: Readonly<Record<RaiseAction, keyof ResourceLimits>> = {
  'raise-memory': 'memoryBytes',
  'raise-cpu': 'cpuShare',
  'raise-epoch-budget': 'epochBudget',
};

type Raise = Extract<PlannedAction, { kind: RaiseAction }>;

interface RaisedLimit {
  readonly field: keyof ResourceLimits;
  readonly from: number;
  readonly to: number;
}

/** The new limit a raise asks for, or why there is nothing to raise. */
function raisedLimit(action: Raise, limits: ResourceLimits): RaisedLimit | string {
  const field = RAISED_LIMIT[action.kind];
  const from = limits[field];
  if (from === undefined) return `no ${field} limit is set, so there is nothing to raise`;
  const raised = from * action.factor;
  // Memory and the epoch budget are counts; a CPU share keeps two decimals.
  const rounded = field === 'cpuShare' ? Math.round(raised * 100) / 100 : Math.ceil(raised);
  const to = action.max === undefined ? rounded : Math.min(rounded, action.max);
  if (to <= from) return `${field} is already at its maximum (${from})`;
  return { field, from, to };
}

export class Intervener {
  readonly #options: IntervenerOptions;
  readonly #limiter: RateLimiter;
  readonly #now: () => Date;
  /** When each firing alert started, by vm and alert name, so its resolution can say so. */
  readonly #firingSince = new Map<string, Date>();

  constructor(options: IntervenerOptions) {
    this.#options = options;
    this.#limiter = new RateLimiter(options.state);
    this.#now = options.now ?? (() => new Date());
  }

  /** Applies the decisions in order; resolves once target actions are done (alerts are queued). */
  async intervene(decisions: readonly Decision[]): Promise<ActionRecord[]> {
    const records: ActionRecord[] = [];
    for (const decision of decisions) {
      for (const action of decision.actions) {
        const outcome = await this.#apply(decision, action);
        const entry: ActionRecord = {
          decision,
          action,
          computation: this.#options.computation,
          vm: decision.vm,
          epoch: decision.epoch,
          kind: action.kind,
          level: decision.level,
          score: decision.score,
          reason: decision.reason,
          outcome,
          dryRun: decision.dryRun,
          time: this.#now().toISOString(),
        };
        this.#options.record?.(entry);
        records.push(entry);
      }
    }
    return records;
  }

  /** For shutdown: waits (at most `timeoutMs`) for every sink to deliver or give up. */
  async flush(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.#options.alerters.map((alerter) => alerter.flush(timeoutMs)));
    return results.every(Boolean);
  }

  saveState(): IntervenerState {
    return this.#limiter.save();
  }

  async #apply(decision: Decision, action: PlannedAction): Promise<Outcome> {
    if (action.limit !== undefined && !this.#limiter.take(action.kind, decision.epoch, action.limit)) {
      const { max, perEpochs } = action.limit;
      return { status: 'rate-limited', detail: `at most ${max} ${action.kind} per ${perEpochs} epochs` };
    }
    try {
      switch (action.kind) {
        case 'alert':
          return this.#alert(decision, action);
        case 'rollback':
          return await this.#recover(decision);
        default:
          return await this.#raise(decision, action);
      }
    } catch (error) {
      return { status: 'failed', detail: error instanceof Error ? error.message : String(error) };
    }
  }

  #alert(decision: Decision, action: Extract<PlannedAction, { kind: 'alert' }>): Outcome {
    const sinks = this.#options.alerters;
    const what = `${action.status} alert ${action.alert}`;
    if (decision.dryRun) return { status: 'dry-run', detail: `would send ${what} to ${sinks.length} sink(s)` };
    if (sinks.length === 0) return { status: 'skipped', detail: `no alert sinks configured for ${what}` };

    const time = this.#now();
    const key = `${decision.vm.id}\u0000${action.alert}`;
    const startsAt = this.#firingSince.get(key) ?? time;
    if (action.status === 'firing') this.#firingSince.set(key, startsAt);
    else this.#firingSince.delete(key);

    const alert: Alert = {
      computation: this.#options.computation,
      vm: decision.vm,
      level: action.alert,
      severity: action.severity,
      status: action.status,
      score: decision.score,
      epoch: decision.epoch,
      reason: decision.reason,
      startsAt,
      time,
    };
    for (const sink of sinks) sink.send(alert);
    return { status: 'queued', detail: `${what} to ${sinks.map((sink) => sink.name).join(', ')}` };
  }

  async #recover(decision: Decision): Promise<Outcome> {
    if (decision.dryRun) return { status: 'dry-run', detail: `would recover ${decision.vm.id}` };
    const outcome = await this.#options.target.recover(decision.vm, decision.reason);
    return { status: outcome.ok ? 'applied' : 'failed', detail: outcome.detail };
  }

  /**
   * Tells the sinks a firing alert is over for a reason of the loop's (its replica was recovered,
   * the computation ended) rather than a score that came down. Never rate-limited.
   */
  resolve(vm: VmIdentity, alert: { readonly name: string; readonly severity: Severity }, epoch: number, reason: string): Outcome {
    const decision: Decision = { vm, epoch, score: 0, cause: 'level-down', level: null, reason, dryRun: false, actions: [] };
    return this.#alert(decision, { kind: 'alert', status: 'resolved', alert: alert.name, severity: alert.severity });
  }

  async #raise(decision: Decision, action: Raise): Promise<Outcome> {
    const raise = raisedLimit(action, this.#options.target.limits());
    if (typeof raise === 'string') return { status: 'skipped', detail: raise };
    const change = `${raise.field} ${raise.from} -> ${raise.to}`;
    if (decision.dryRun) return { status: 'dry-run', detail: `would raise ${change}` };
    const outcome = await this.#options.target.adjustResources({ [raise.field]: raise.to });
    return { status: outcome.ok ? 'applied' : 'failed', detail: `${change}: ${outcome.detail}` };
  }
}
