// The policy that applies when there is no file, and that every file's absent keys inherit.
// Scores from the analysis engine are in [0,1] with 0.5 as the "anomaly" line, so `warn` sits a
// little above it and needs two epochs in a row, while `predict-failure` acts at once.

import type { AlertSettings, VmPolicy } from './schema.js';

export const BUILT_IN_VM_POLICY: VmPolicy = {
  levels: [
    { name: 'warn', enter: 0.6, exit: 0.5, consecutive: 2, actions: ['alert'], severity: 'warning' },
    {
      name: 'predict-failure',
      enter: 0.85,
      exit: 0.7,
      consecutive: 1,
      actions: ['alert', 'rollback'],
      severity: 'critical',
    },
  ],
  forecast: { memory: { horizonEpochs: 40, action: 'raise-memory', factor: 1.5 } },
  rateLimits: {
    alert: { max: 10, perEpochs: 100 },
    rollback: { max: 3, perEpochs: 100 },
    'raise-memory': { max: 3, perEpochs: 100 },
    'raise-cpu': { max: 3, perEpochs: 100 },
    'raise-epoch-budget': { max: 3, perEpochs: 100 },
  },
  // Forecast exhaustion raises memory ×1.5 up to 2 GiB (half of wasm32's 4 GiB, for three replicas
  // on one host); beyond it the guest meets its own out-of-memory path, or ends as `oom` (137).
  raise: { memory: { factor: 1.5, max: 2 * 2 ** 30 }, cpu: { factor: 1.5 }, epochBudget: { factor: 2 } },
  dryRun: false,
};

export const BUILT_IN_ALERTS: AlertSettings = {
  webhooks: [],
  alertmanagers: [],
  log: true,
  delivery: { timeoutMs: 5000, maxAttempts: 5, initialBackoffMs: 500, maxBackoffMs: 30_000, queueSize: 1000 },
};
