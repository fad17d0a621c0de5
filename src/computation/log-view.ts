// A computation's differential log as people read it (`shadowvm log`, the API's log pages): every
// resolution of an epoch with what differed pairwise, the verdict, the actions it led to and the
// events around it, plus the alerts and the size of the log. One builder for the CLI and the API.

import { ComputationNotFoundError } from '../store/errors.js';
import type { Store, StoredAction, StoredAlert, StoredDivergence, StoredEvent, StoredVerdict } from '../store/types.js';

export interface LogVm {
  readonly instructions: number;
  readonly runMs: number;
  readonly memoryBytes: number;
  readonly lagMs: number;
}

export interface LogEpoch {
  readonly epoch: number;
  readonly attempt: number;
  readonly verified: boolean;
  readonly at: number;
  readonly vms: Readonly<Record<string, LogVm>>;
}

export type LogDivergence = StoredDivergence & { readonly deltaBytes: number; readonly pages: readonly number[] };

export interface LogPage {
  readonly computation: { readonly id: string; readonly name: string; readonly status: string; readonly exitCode: number | null };
  readonly epochs: readonly LogEpoch[];
  readonly divergences: readonly LogDivergence[];
  readonly verdicts: readonly StoredVerdict[];
  readonly actions: readonly StoredAction[];
  readonly events: readonly StoredEvent[];
  readonly alerts: readonly StoredAlert[];
  readonly stats: ReturnType<Store['stats']>;
  /** The first epoch of the next page; null when this page reaches the end of the range. */
  readonly next: number | null;
}

export interface LogRange {
  readonly from?: number;
  readonly to?: number;
  /** Epochs per page (default: all of them). */
  readonly limit?: number;
}

export function readLog(store: Store, id: string, range: LogRange = {}): LogPage {
  const row = store.computations.get(id);
  if (!row) throw new ComputationNotFoundError(id);
  const records = store.difflog.readEpochs(id, range);
  const epochs = [...new Set(records.map((r) => r.epoch))].sort((a, b) => a - b);
  const kept = range.limit !== undefined ? epochs.slice(0, range.limit) : epochs;
  const next = kept.length < epochs.length ? (epochs[kept.length] ?? null) : null;
  const to = next !== null ? next - 1 : (range.to ?? Number.MAX_SAFE_INTEGER);
  const from = range.from ?? 0;
  const inRange = (epoch: number | null) => epoch === null || (from <= epoch && epoch <= to);
  return {
    computation: { id, name: row.name, status: row.status, exitCode: row.exitCode },
    epochs: records
      .filter((r) => inRange(r.epoch))
      .map((r) => ({
        epoch: r.epoch,
        attempt: r.attempt,
        verified: r.verified,
        at: r.at,
        vms: Object.fromEntries(
          Object.entries(r.metrics).map(([vm, m]) => [
            vm,
            { instructions: m.instructions, runMs: round(m.runMs), memoryBytes: m.memoryBytes, lagMs: round(m.extra?.lagMs ?? 0) },
          ]),
        ),
      })),
    divergences: divergences(store, id, { from, to }),
    verdicts: store.difflog.readVerdicts(id, { from, to }),
    actions: store.audit.listActions(id).filter((a) => inRange(a.epoch)),
    events: store.audit.listEvents(id).filter((e) => inRange(e.epoch)),
    alerts: store.audit.listAlerts(id).filter((a) => inRange(a.epoch)),
    stats: store.stats(id),
    next,
  };
}

function divergences(store: Store, id: string, range: { from: number; to: number }): LogDivergence[] {
  const out: LogDivergence[] = [];
  let after: number | undefined;
  for (;;) {
    const page = store.difflog.readDivergences(id, { ...range, ...(after !== undefined ? { after } : {}), limit: 1000 });
    for (const divergence of page.items) {
      const deltas = store.difflog.readPageDeltas(divergence.id);
      out.push({ ...divergence, pages: deltas.map((d) => d.page), deltaBytes: deltas.reduce((sum, d) => sum + d.delta.length, 0) });
    }
    if (page.next === null) return out;
    after = page.next;
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Joins consecutive pages of one log (each page repeats the computation and the stats). */
export function joinPages(pages: readonly LogPage[]): LogPage {
  const [first, ...rest] = pages;
  if (!first) throw new Error('a log has at least one page');
  return rest.reduce(
    (view, page) => ({
      ...page,
      epochs: [...view.epochs, ...page.epochs],
      divergences: [...view.divergences, ...page.divergences],
      verdicts: [...view.verdicts, ...page.verdicts],
      actions: [...view.actions, ...page.actions],
      events: [...view.events, ...page.events],
      alerts: [...view.alerts, ...page.alerts],
    }),
    first,
  );
}
