// `shadowvm log <computation-id>`: the differential log, epoch by epoch — what each shadow
// differed in, and what the manager did about it.

import { type AuditEntry, eventEntry } from '../../api/audit-trail.js';
import { ComputationNotFoundError } from '../../store/errors.js';
import type { Store, StoredDivergence } from '../../store/types.js';
import { remoteLog, SERVER_OPTIONS, serverFrom } from '../client.js';
import { parseCommandFlags, parseCount, UsageError } from '../parse.js';
import { openStoreFromFlag, STORE_OPTION } from '../store-flag.js';

export const LOG_USAGE = `usage: shadowvm log COMPUTATION-ID [--from N] [--to N] [--all] [--json] [--store PATH | --server URL [--token T]]
  prints each epoch that had a divergence or an event (--all: every epoch)`;

export async function logCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandFlags(
    'log',
    argv,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      ...STORE_OPTION,
      ...SERVER_OPTIONS,
    },
    { positionals: true },
  );
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new UsageError(`log: give exactly one computation id; ${LOG_USAGE.split('\n')[0]}`);
  const range = {
    ...(values.from !== undefined ? { from: parseCount('--from', values.from) } : {}),
    ...(values.to !== undefined ? { to: parseCount('--to', values.to) } : {}),
  };
  const server = serverFrom(values);
  if (server) return remoteLog(server, id, range, { all: values.all === true, json: values.json === true });
  const store = openStoreFromFlag(values.store);
  try {
    const log = readLog(store, id, range);
    if (values.json) process.stdout.write(`${JSON.stringify(log, null, 2)}\n`);
    else process.stdout.write(formatLog(log, values.all === true));
    return 0;
  } finally {
    store.close();
  }
}

export interface DiffLogView {
  readonly computation: { id: string; name: string; status: string; exitCode: number | null };
  readonly epochs: {
    epoch: number;
    verified: boolean;
    vms: Record<string, { instructions: number; runMs: number; memoryBytes: number; lagMs: number }>;
  }[];
  readonly divergences: (StoredDivergence & { deltaBytes: number })[];
  readonly events: AuditEntry[];
  readonly stats: ReturnType<Store['stats']>;
}

export function readLog(store: Store, id: string, range: { from?: number; to?: number }): DiffLogView {
  const computation = store.computations.get(id);
  if (!computation) throw new ComputationNotFoundError(id);
  const divergences: (StoredDivergence & { deltaBytes: number })[] = [];
  let after: number | undefined;
  for (;;) {
    const page = store.difflog.readDivergences(id, { ...range, ...(after !== undefined ? { after } : {}), limit: 1000 });
    for (const divergence of page.items) {
      const deltaBytes = store.difflog.readPageDeltas(divergence.id).reduce((sum, d) => sum + d.delta.length, 0);
      divergences.push({ ...divergence, deltaBytes });
    }
    if (page.next === null) break;
    after = page.next;
  }
  const inRange = (epoch: number | null) => epoch === null || ((range.from ?? 0) <= epoch && epoch <= (range.to ?? Infinity));
  return {
    computation: { id, name: computation.name, status: computation.status, exitCode: computation.exitCode },
    epochs: store.difflog.readEpochs(id, range).map((record) => ({
      epoch: record.epoch,
      verified: record.verified,
      vms: Object.fromEntries(
        Object.entries(record.metrics).map(([vm, m]) => [
          vm,
          { instructions: m.instructions, runMs: round(m.runMs), memoryBytes: m.memoryBytes, lagMs: round(m.extra?.lagMs ?? 0) },
        ]),
      ),
    })),
    divergences,
    events: store.audit
      .listEvents(id)
      .filter((event) => inRange(event.epoch))
      .map(eventEntry),
    stats: store.stats(id),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function formatLog(log: DiffLogView, all: boolean): string {
  const lines = [
    `computation ${log.computation.id} (${log.computation.name}): ${log.computation.status}${log.computation.exitCode !== null ? `, exit code ${log.computation.exitCode}` : ''}`,
  ];
  const divergencesByEpoch = groupBy(log.divergences, (d) => d.epoch);
  const eventsByEpoch = groupBy(log.events, (e) => e.epoch ?? 0);
  for (const record of log.epochs) {
    const divergences = divergencesByEpoch.get(record.epoch) ?? [];
    const events = eventsByEpoch.get(record.epoch) ?? [];
    if (!all && divergences.length === 0 && events.length === 0) continue;
    const primary = Object.values(record.vms)[0];
    const memory = primary ? ` memory ${(primary.memoryBytes / 2 ** 20).toFixed(1)} MiB` : '';
    lines.push(`epoch ${record.epoch}: ${record.verified ? 'verified' : 'not verified'}${memory}`);
    for (const d of divergences)
      lines.push(`  ≠ ${d.vmId}: ${d.kind}: ${d.summary}${d.deltaBytes > 0 ? ` (${d.deltaBytes} delta bytes)` : ''}`);
    for (const e of events) lines.push(`  • ${e.kind}: ${e.reason}`);
  }
  const { stats } = log;
  const full = stats.fullCaptureBytes;
  lines.push(
    `${stats.epochs} epoch records, ${stats.divergences} divergences, ${stats.pageDeltas} page deltas; ` +
      `${stats.bytesLogged} bytes logged vs ${full} bytes of full captures (${full > 0 ? `1/${Math.round(full / Math.max(stats.bytesLogged, 1))}` : 'n/a'})`,
  );
  return `${lines.join('\n')}\n`;
}

function groupBy<T>(items: readonly T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
