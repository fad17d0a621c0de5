// `shadowvm list`: the computations in the store, newest first.

import { COMPUTATION_STATUSES, type ComputationStatus } from '../../store/types.js';
import { remoteList, SERVER_OPTIONS, serverFrom } from '../client.js';
import { table } from '../display.js';
import { parseCommandFlags, parseCount, UsageError } from '../parse.js';
import { openStoreFromFlag, STORE_OPTION } from '../store-flag.js';

export const LIST_USAGE = `usage: shadowvm list [--status STATUS] [--limit N] [--json] [--store PATH | --server URL [--token T]]
  the computations in the store, newest first`;

export async function listCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandFlags('list', argv, {
    status: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    ...STORE_OPTION,
    ...SERVER_OPTIONS,
  });
  const status = values.status;
  if (status !== undefined && !(COMPUTATION_STATUSES as readonly string[]).includes(status)) {
    throw new UsageError(`list --status ${status}: use one of ${COMPUTATION_STATUSES.join(', ')}`);
  }
  const server = serverFrom(values);
  const limit = values.limit !== undefined ? parseCount('--limit', values.limit, 1) : 50;
  if (server) return remoteList(server, { ...(status ? { status } : {}), limit, json: values.json === true });
  const store = openStoreFromFlag(values.store);
  try {
    const computations = store.computations.list({
      ...(status ? { status: status as ComputationStatus } : {}),
      limit,
    });
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify(
          computations.map(({ report, ...rest }) => ({ ...rest, hasReport: report !== null })),
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    const rows = computations.map((c) => [
      c.id,
      c.name,
      c.status,
      c.exitCode === null ? '' : String(c.exitCode),
      new Date(c.createdAt).toISOString(),
    ]);
    process.stdout.write(`${table([['id', 'guest', 'status', 'exit', 'created'], ...rows])}\n`);
    return 0;
  } finally {
    store.close();
  }
}
