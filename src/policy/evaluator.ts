// Turns a stream of scores (and forecasts) per VM into Decisions. Levels use hysteresis (enter at
// one threshold, leave below a lower one) and a run of consecutive epochs to enter, so a noisy
// score does not flap between alert and all-clear. Forecast rules fire once when a predicted limit
// crossing enters their horizon and re-arm when it leaves it, so one prediction is one action.

import * as z from 'zod';
import type { Decision, PlannedAction } from './decision.js';
import { PolicyError } from './errors.js';
import { formatPath } from './parse.js';
import { resolvePolicy, type VmIdentity } from './resolve.js';
import {
  type ActionKind,
  FORECAST_RESOURCES,
  type ForecastResource,
  type Level,
  type Policy,
  type RaiseAction,
  type RaiseResource,
  type Severity,
  type VmPolicy,
} from './schema.js';

/** Per resource: epochs until the forecaster predicts the limit is crossed; null if never. */
export type ForecastInput = { readonly [R in ForecastResource]?: number | null };

export interface Observation {
  readonly vm: VmIdentity;
  readonly epoch: number;
  /** Failure-prediction score in [0,1]; a non-finite score carries no information and changes nothing. */
  readonly score: number;
  /** A resource left out means "no news": its forecast rule keeps its state. */
  readonly forecast?: ForecastInput;
}

const vmStateSchema = z.strictObject({
  level: z.string().nullable(),
  streaks: z.record(z.string(), z.number().int().min(0)),
  forecasts: z.array(z.enum(FORECAST_RESOURCES)),
});

const evaluatorStateSchema = z.strictObject({
  version: z.literal(1),
  vms: z.record(z.string(), vmStateSchema),
});

/** Plain JSON: survives JSON.stringify/parse and restores the evaluator exactly. */
export type EvaluatorState = z.output<typeof evaluatorStateSchema>;

interface VmState {
  level: string | null;
  /** Consecutive epochs at or above each level's enter threshold, by level name. */
  streaks: Map<string, number>;
  /** Forecast rules whose predicted crossing is within their horizon. */
  forecasts: Set<ForecastResource>;
}

const RAISED_RESOURCE: Readonly<Record<RaiseAction, RaiseResource>> = {
  'raise-memory': 'memory',
  'raise-cpu': 'cpu',
  'raise-epoch-budget': 'epochBudget',
};

interface AlertIdentity {
  readonly name: string;
  readonly severity: Severity;
}

function plan(kind: ActionKind, settings: VmPolicy, alert: AlertIdentity, factor?: number): PlannedAction {
  const limit = settings.rateLimits[kind];
  switch (kind) {
    case 'alert':
      return { kind, status: 'firing', alert: alert.name, severity: alert.severity, limit };
    case 'rollback':
      return { kind, limit };
    default: {
      const rule = settings.raise[RAISED_RESOURCE[kind]];
      return { kind, factor: factor ?? rule.factor, max: rule.max, limit };
    }
  }
}

function resolution(alert: AlertIdentity): PlannedAction {
  return { kind: 'alert', status: 'resolved', alert: alert.name, severity: alert.severity };
}

function alertOf(level: Level): AlertIdentity {
  return { name: level.name, severity: level.severity };
}

const score3 = (score: number): string => score.toFixed(3);

export class PolicyEvaluator {
  #policy: Policy;
  readonly #settings = new Map<string, VmPolicy>();
  readonly #vms = new Map<string, VmState>();

  /** `state` is what `saveState()` returned (possibly through JSON); it is validated. */
  constructor(policy: Policy, state?: unknown) {
    this.#policy = policy;
    if (state !== undefined) this.#restore(state);
  }

  /** Replaces the policy at run time. Levels are kept by name; a level the new policy lacks is left silently. */
  setPolicy(policy: Policy): void {
    this.#policy = policy;
    this.#settings.clear();
  }

  evaluate(observation: Observation): Decision[] {
    const settings = this.#settingsFor(observation.vm);
    const state = this.#stateFor(observation.vm.id);
    const decisions: Decision[] = [];
    const levelDecision = this.#stepLevels(settings, state, observation);
    if (levelDecision !== undefined) decisions.push(levelDecision);
    decisions.push(...this.#stepForecasts(settings, state, observation));
    return decisions;
  }

  saveState(): EvaluatorState {
    const vms = [...this.#vms].map(([id, state]) => [
      id,
      { level: state.level, streaks: Object.fromEntries(state.streaks), forecasts: [...state.forecasts] },
    ]);
    return { version: 1, vms: Object.fromEntries(vms) as EvaluatorState['vms'] };
  }

  #restore(saved: unknown): void {
    const result = evaluatorStateSchema.safeParse(saved);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue === undefined ? '' : `${formatPath(issue.path) || '(top level)'}: ${issue.message}`;
      throw new PolicyError(`saved policy evaluator state is not usable (${where}); start without it`);
    }
    for (const [id, vm] of Object.entries(result.data.vms)) {
      const streaks = new Map(Object.entries(vm.streaks));
      this.#vms.set(id, { level: vm.level, streaks, forecasts: new Set(vm.forecasts) });
    }
  }

  #settingsFor(vm: VmIdentity): VmPolicy {
    const key = `${vm.id}\u0000${vm.role}\u0000${vm.profile}`;
    let settings = this.#settings.get(key);
    if (settings === undefined) {
      settings = resolvePolicy(this.#policy, vm);
      this.#settings.set(key, settings);
    }
    return settings;
  }

  #stateFor(id: string): VmState {
    let state = this.#vms.get(id);
    if (state === undefined) {
      state = { level: null, streaks: new Map(), forecasts: new Set() };
      this.#vms.set(id, state);
    }
    return state;
  }

  #stepLevels(settings: VmPolicy, state: VmState, observation: Observation): Decision | undefined {
    const { score } = observation;
    if (!Number.isFinite(score)) return undefined;
    const levels = settings.levels;
    const current = levels.findIndex((level) => level.name === state.level);
    if (current === -1) state.level = null;

    const streaks = new Map(levels.map((level) => [level.name, score >= level.enter ? (state.streaks.get(level.name) ?? 0) + 1 : 0]));
    state.streaks = streaks;

    // Up: the most severe level above the current one whose run of epochs is long enough.
    const from = levels[current];
    const entered = levels
      .slice(current + 1)
      .reverse()
      .find((level) => (streaks.get(level.name) ?? 0) >= level.consecutive);
    if (entered !== undefined) {
      const streak = streaks.get(entered.name) ?? 0;
      state.level = entered.name;
      return this.#decision(observation, settings, state, 'level-up', {
        reason:
          `score ${score3(score)} at or above ${entered.name}'s enter threshold ${entered.enter} ` +
          `for ${streak} consecutive epoch${streak > 1 ? 's' : ''}${from ? ` (was ${from.name})` : ''}`,
        actions: [
          ...(from?.actions.includes('alert') ? [resolution(alertOf(from))] : []),
          ...entered.actions.map((kind) => plan(kind, settings, alertOf(entered))),
        ],
      });
    }

    // Down: below the current level's exit threshold, to the highest level whose band still holds it.
    if (from === undefined || score >= from.exit) return undefined;
    const to = levels
      .slice(0, current)
      .reverse()
      .find((level) => score >= level.exit);
    state.level = to?.name ?? null;
    return this.#decision(observation, settings, state, 'level-down', {
      reason: `score ${score3(score)} below ${from.name}'s exit threshold ${from.exit} (now ${to?.name ?? 'no level'})`,
      actions: [
        ...(from.actions.includes('alert') ? [resolution(alertOf(from))] : []),
        ...(to?.actions.includes('alert') ? [plan('alert', settings, alertOf(to))] : []),
      ],
    });
  }

  #stepForecasts(settings: VmPolicy, state: VmState, observation: Observation): Decision[] {
    const decisions: Decision[] = [];
    for (const resource of FORECAST_RESOURCES) {
      const rule = settings.forecast[resource];
      if (rule === undefined) {
        state.forecasts.delete(resource);
        continue;
      }
      const epochs = observation.forecast?.[resource];
      if (epochs === undefined) continue;
      const within = epochs !== null && epochs >= 0 && epochs <= rule.horizonEpochs;
      const alert: AlertIdentity = { name: `forecast-${resource}`, severity: 'warning' };
      if (within && !state.forecasts.has(resource)) {
        state.forecasts.add(resource);
        decisions.push(
          this.#decision(observation, settings, state, 'forecast', {
            reason: `${resource} limit predicted to be crossed in ${epochs} epochs (horizon ${rule.horizonEpochs})`,
            actions: [plan(rule.action, settings, alert, rule.factor)],
          }),
        );
      } else if (!within && state.forecasts.has(resource)) {
        state.forecasts.delete(resource);
        if (rule.action === 'alert') {
          decisions.push(
            this.#decision(observation, settings, state, 'forecast', {
              reason: `${resource} limit no longer predicted to be crossed within ${rule.horizonEpochs} epochs`,
              actions: [resolution(alert)],
            }),
          );
        }
      }
    }
    return decisions;
  }

  #decision(
    observation: Observation,
    settings: VmPolicy,
    state: VmState,
    cause: Decision['cause'],
    what: Pick<Decision, 'reason' | 'actions'>,
  ): Decision {
    return {
      vm: observation.vm,
      epoch: observation.epoch,
      score: observation.score,
      cause,
      level: state.level,
      dryRun: settings.dryRun,
      ...what,
    };
  }
}
