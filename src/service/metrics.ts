// Prometheus metrics, fed from the event bus: per computation and VM, epochs, differing pages,
// drift score, predictions, interventions, lag and overhead; plus the manager's queue.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceEvent } from './event-bus.js';
import type { Manager } from './manager.js';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Stops following the bus. */
  close(): void;
}

export function serviceMetrics(manager: Manager): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shadowvm_process_' });
  const make = {
    counter: (name: string, help: string, labelNames: readonly string[]) => new Counter({ name, help, labelNames, registers: [registry] }),
    gauge: (name: string, help: string, labelNames: readonly string[]) => new Gauge({ name, help, labelNames, registers: [registry] }),
  };
  const epochs = make.counter('shadowvm_epochs_total', 'Epoch barriers resolved', ['computation']);
  const diffPages = make.counter('shadowvm_diff_pages_total', 'Pages that differed from the primary', ['computation', 'vm']);
  const divergences = make.counter('shadowvm_divergences_total', 'Epochs at which a VM differed from the primary', ['computation', 'vm']);
  const score = make.gauge('shadowvm_drift_score', 'Latest drift score (0..1) the policy judged', ['computation', 'vm']);
  const predictions = make.counter('shadowvm_predictions_total', 'Warning and failure predictions', ['computation', 'vm', 'level']);
  const interventions = make.counter('shadowvm_interventions_total', 'Interventions taken (rollback, resources, alert)', ['computation', 'kind']);
  const lag = make.gauge('shadowvm_lag_ms', "How long after the primary the VM reached the last barrier", ['computation', 'vm']);
  const overhead = make.gauge('shadowvm_digest_overhead_ratio', 'Digest time over run time in the last epoch', ['computation', 'vm']);
  const memory = make.gauge('shadowvm_memory_pages', 'Guest memory in use, in 4 KiB pages', ['computation', 'vm']);
  const phase = make.gauge('shadowvm_computations', 'Computations of this manager by phase', ['phase']);
  const ended = make.counter('shadowvm_computations_ended_total', 'Computations ended, by final status', ['status']);
  const refreshPhases = () => {
    const counts = manager.counts();
    for (const [name, value] of Object.entries(counts)) phase.set({ phase: name }, value);
  };

  const onEvent = (event: ServiceEvent) => {
    const computation = event.computationId;
    const data = event.data as Record<string, unknown>;
    switch (event.type) {
      case 'epoch': {
        epochs.inc({ computation });
        for (const [vm, m] of Object.entries(data.vms as Record<string, { runMs: number; digestMs: number; lagMs: number; memoryPages: number }>)) {
          lag.set({ computation, vm }, m.lagMs);
          overhead.set({ computation, vm }, m.runMs > 0 ? m.digestMs / m.runMs : 0);
          memory.set({ computation, vm }, m.memoryPages);
        }
        return;
      }
      case 'divergence':
        divergences.inc({ computation, vm: String(data.vmId) });
        diffPages.inc({ computation, vm: String(data.vmId) }, Number(data.pageCount));
        return;
      case 'score':
        for (const [vm, value] of Object.entries(data.scores as Record<string, number>)) score.set({ computation, vm }, value);
        return;
      case 'prediction':
        predictions.inc({ computation, vm: String(data.vmId), level: String(data.level) });
        return;
      case 'intervention':
        interventions.inc({ computation, kind: String(data.kind) });
        return;
      case 'event':
        if (data.kind === 'rollback') interventions.inc({ computation, kind: 'rollback-executed' });
        return;
      case 'status':
        refreshPhases();
        return;
      case 'end':
        ended.inc({ status: String(data.status) });
        refreshPhases();
        return;
      case 'output':
        return;
    }
  };
  refreshPhases();
  const unsubscribe = manager.bus.subscribe(onEvent);
  return { registry, close: unsubscribe };
}
