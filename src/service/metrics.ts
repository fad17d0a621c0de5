// Prometheus metrics, fed from the event bus: per computation and VM, epochs, differing pages,
// prediction score, predictions, interventions, lag and overhead; plus the manager's queue.
//
// A long-running service sees computation after computation, and every one adds label sets. An
// ended computation's series (its totals and last values) stay while it is among the last
// `keptEnded` ended computations, so scrapes after the end still see them, and then go
// (`shadowvm_computations_ended_total` keeps the count).

import { Counter, collectDefaultMetrics, Gauge, type LabelValues, Registry } from 'prom-client';
import type { ServiceEvent } from './event-bus.js';
import type { Manager } from './manager.js';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Stops following the bus. */
  close(): void;
}

export interface ServiceMetricsOptions {
  /** Ended computations whose counters stay exported. */
  readonly keptEnded?: number;
}

type Series = Counter<string> | Gauge<string>;

/** The label sets each computation created, per metric, so they can be removed later. */
class SeriesOfComputations {
  private readonly byComputation = new Map<string, Map<Series, Map<string, LabelValues<string>>>>();

  note(computation: string, metric: Series, labels: LabelValues<string>): void {
    const metrics = this.byComputation.get(computation) ?? new Map<Series, Map<string, LabelValues<string>>>();
    this.byComputation.set(computation, metrics);
    const labelSets = metrics.get(metric) ?? new Map<string, LabelValues<string>>();
    metrics.set(metric, labelSets);
    labelSets.set(JSON.stringify(labels), labels);
  }

  /** Removes every series the computation created. */
  remove(computation: string): void {
    for (const [metric, labelSets] of this.byComputation.get(computation) ?? []) {
      for (const labels of labelSets.values()) metric.remove(labels);
    }
    this.byComputation.delete(computation);
  }
}

export function serviceMetrics(manager: Pick<Manager, 'bus' | 'counts'>, options: ServiceMetricsOptions = {}): ServiceMetrics {
  const keptEnded = options.keptEnded ?? 100;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shadowvm_process_' });
  const make = {
    counter: (name: string, help: string, labelNames: readonly string[]) => new Counter({ name, help, labelNames, registers: [registry] }),
    gauge: (name: string, help: string, labelNames: readonly string[]) => new Gauge({ name, help, labelNames, registers: [registry] }),
  };
  const epochs = make.counter('shadowvm_epochs_total', 'Epoch barriers resolved', ['computation']);
  const diffPages = make.counter('shadowvm_diff_pages_total', 'Pages that differed from the primary', ['computation', 'vm']);
  const divergences = make.counter(
    'shadowvm_divergences_total',
    'Epochs at which the vote blamed a VM (or no majority decided: vm "undecided")',
    ['computation', 'vm'],
  );
  const score = make.gauge('shadowvm_prediction_score', 'Latest failure-prediction score (0..1) the policy judged', ['computation', 'vm']);
  const predictions = make.counter('shadowvm_predictions_total', 'Warning and failure predictions', ['computation', 'vm', 'level']);
  const interventions = make.counter('shadowvm_interventions_total', 'Interventions taken (rollback, resources, alert)', [
    'computation',
    'kind',
  ]);
  const lag = make.gauge('shadowvm_lag_ms', 'How long after the primary the VM reached the last barrier', ['computation', 'vm']);
  const overhead = make.gauge('shadowvm_digest_overhead_ratio', 'Digest time over run time in the last epoch', ['computation', 'vm']);
  const memory = make.gauge('shadowvm_memory_bytes', 'Guest memory in use, in bytes', ['computation', 'vm']);
  const phase = make.gauge('shadowvm_computations', 'Computations of this manager by phase', ['phase']);
  const ended = make.counter('shadowvm_computations_ended_total', 'Computations ended, by final status', ['status']);
  const refreshPhases = () => {
    const counts = manager.counts();
    for (const [name, value] of Object.entries(counts)) phase.set({ phase: name }, value);
  };

  const series = new SeriesOfComputations();
  const endedOrder: string[] = [];
  const setGauge = (gauge: Gauge<string>, labels: LabelValues<string> & { computation: string }, value: number) => {
    gauge.set(labels, value);
    series.note(labels.computation, gauge, labels);
  };
  const count = (counter: Counter<string>, labels: LabelValues<string> & { computation: string }, by = 1) => {
    counter.inc(labels, by);
    series.note(labels.computation, counter, labels);
  };
  const forgetEnded = (computation: string) => {
    if (!endedOrder.includes(computation)) endedOrder.push(computation);
    while (endedOrder.length > keptEnded) series.remove(endedOrder.shift() as string);
  };

  const onEvent = (event: ServiceEvent) => {
    const computation = event.computationId;
    const data = event.data as Record<string, unknown>;
    switch (event.type) {
      case 'epoch': {
        count(epochs, { computation });
        for (const [vm, m] of Object.entries(
          data.vms as Record<string, { runMs: number; digestMs: number; lagMs: number; memoryBytes: number }>,
        )) {
          setGauge(lag, { computation, vm }, m.lagMs);
          setGauge(overhead, { computation, vm }, m.runMs > 0 ? m.digestMs / m.runMs : 0);
          setGauge(memory, { computation, vm }, m.memoryBytes);
        }
        return;
      }
      case 'divergence':
        count(diffPages, { computation, vm: String(data.vmId) }, Number(data.pageCount));
        return;
      case 'verdict': {
        const blamed = Array.isArray(data.blamed) ? data.blamed.map(String) : [];
        for (const vm of blamed.length > 0 ? blamed : ['undecided']) count(divergences, { computation, vm });
        return;
      }
      case 'score':
        for (const [vm, value] of Object.entries(data.scores as Record<string, number>)) setGauge(score, { computation, vm }, value);
        return;
      case 'prediction':
        count(predictions, { computation, vm: String(data.vmId), level: String(data.level) });
        return;
      case 'intervention':
        count(interventions, { computation, kind: String(data.kind) });
        return;
      case 'endpoints':
      case 'event':
        return;
      case 'status':
        refreshPhases();
        return;
      case 'end':
        ended.inc({ status: String(data.status) });
        forgetEnded(computation);
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
