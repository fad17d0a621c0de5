// The policy library: parse a policy file, resolve it per VM, and evaluate scores into Decisions.

export type { AlertStatus, Decision, PlannedAction } from './decision.js';
export { BUILT_IN_ALERTS, BUILT_IN_VM_POLICY } from './defaults.js';
export { PolicyError } from './errors.js';
export { type EvaluatorState, type ForecastInput, type Observation, PolicyEvaluator } from './evaluator.js';
export { BUILT_IN_SOURCE, defaultPolicy, loadPolicyFile, parsePolicy } from './parse.js';
export { resolvePolicy, type VmIdentity } from './resolve.js';
export type {
  ActionKind,
  AlertSettings,
  DeliverySettings,
  ForecastResource,
  ForecastRule,
  Level,
  Policy,
  RateLimit,
  Severity,
  VmPolicy,
} from './schema.js';
