// `shadowvm log <computation-id>`: the differential log, epoch by epoch — what each shadow
// differed in, and what the manager did about it.

import { type LogPage, readLog } from '../../computation/log-view.js';
import { remoteLog, SERVER_OPTIONS, serverFrom } from '../client.js';
import { describeAction, describeVerdict } from '../display.js';
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

/** The log as the CLI prints it: epoch by epoch, each resolution with what differed and what was done. */
export function formatLog(log: LogPage, all: boolean): string {
  const { computation } = log;
  const lines = [
    `computation ${computation.id} (${computation.name}): ${computation.status}${computation.exitCode !== null ? `, exit code ${computation.exitCode}` : ''}`,
  ];
  const key = (epoch: number, attempt: number) => `${epoch}/${attempt}`;
  const divergences = groupBy(log.divergences, (d) => key(d.epoch, d.attempt));
  const verdicts = groupBy(log.verdicts, (v) => key(v.epoch, v.attempt));
  // Actions and events carry their epoch only: each belongs to the latest resolution of that epoch logged before it.
  const resolutionOf = (epoch: number | null, at: number) => {
    const candidates = log.epochs.filter((e) => e.epoch === epoch && e.at <= at);
    const last = candidates[candidates.length - 1] ?? log.epochs.find((e) => e.epoch === epoch);
    return last ? key(last.epoch, last.attempt) : key(epoch ?? 0, 1);
  };
  const actions = groupBy(log.actions, (a) => resolutionOf(a.epoch, a.at));
  const events = groupBy(log.events, (e) => resolutionOf(e.epoch, e.at));
  for (const record of log.epochs) {
    const at = key(record.epoch, record.attempt);
    const shown = [...(divergences.get(at) ?? []), ...(verdicts.get(at) ?? []), ...(actions.get(at) ?? []), ...(events.get(at) ?? [])];
    if (!all && shown.length === 0) continue;
    const primary = Object.values(record.vms)[0];
    const memory = primary ? ` memory ${(primary.memoryBytes / 2 ** 20).toFixed(1)} MiB` : '';
    const attempt = record.attempt > 1 ? ` (attempt ${record.attempt})` : '';
    lines.push(`epoch ${record.epoch}${attempt}: ${record.verified ? 'verified' : 'not verified'}${memory}`);
    for (const d of divergences.get(at) ?? []) {
      lines.push(`  ≠ ${d.vmId} vs ${d.peerVmId}: ${d.kind}: ${d.summary}${d.deltaBytes > 0 ? ` (${d.deltaBytes} delta bytes)` : ''}`);
    }
    for (const v of verdicts.get(at) ?? []) {
      const settled = v.resolution
        ? `; settled at attempt ${v.resolution.attempt}: ${v.resolution.kind}${v.resolution.blamed.length > 0 ? ` (${v.resolution.blamed.join(', ')})` : ''}`
        : '';
      lines.push(`  ${describeVerdict(v.kind, v.blamed)}${settled}`);
    }
    for (const a of actions.get(at) ?? []) lines.push(`  → ${describeAction(a)}`);
    for (const e of events.get(at) ?? []) lines.push(`  • ${e.kind}: ${e.message}`);
  }
  for (const alert of log.alerts) {
    const state = alert.resolution === null ? 'still open' : `resolved at epoch ${alert.resolvedEpoch}: ${alert.resolution}`;
    lines.push(`alert ${alert.name} (${alert.severity}) on ${alert.vmId}, fired at epoch ${alert.epoch}: ${state}`);
  }
  const { stats } = log;
  const full = stats.fullCaptureBytes;
  lines.push(
    `${stats.epochs} epoch records, ${stats.divergences} divergences, ${stats.pageDeltas} page deltas; ` +
      `${stats.bytesLogged} bytes logged vs ${full} bytes of full captures (${full > 0 ? `1/${Math.round(full / Math.max(stats.bytesLogged, 1))}` : 'n/a'})`,
  );
  return `${lines.join('\n')}\n`;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
