// The CLI as a client of a running manager (`--server URL` or $SHADOWVM_SERVER, token from
// --token or $SHADOWVM_TOKEN): run, list and log print what they print standalone, but the
// computation runs in (and the log is read from) the manager.

import { writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { readSse } from '../api/sse-client.js';
import type { ComputationConfig } from '../computation/config.js';
import { joinPages, type LogPage } from '../computation/log-view.js';
import type { ComputationEvent } from '../computation/ports.js';
import type { ComputationReport } from '../computation/report.js';
import type { Endpoint } from '../drivers/types.js';
import { ShadowvmError } from '../errors.js';
import type { ComputationStatus } from '../store/types.js';
import { formatLog } from './commands/log.js';
import { describeAction, describeVerdict, summary, table } from './display.js';

export const SERVER_OPTIONS = { server: { type: 'string' }, token: { type: 'string' } } as const;

export interface ServerTarget {
  readonly url: string;
  readonly token?: string;
}

/** The manager named by --server or $SHADOWVM_SERVER; undefined means run standalone. */
export function serverFrom(values: { server?: string | undefined; token?: string | undefined }): ServerTarget | undefined {
  const url = values.server ?? process.env.SHADOWVM_SERVER;
  if (!url) return undefined;
  const token = values.token ?? process.env.SHADOWVM_TOKEN;
  return { url: url.replace(/\/+$/, ''), ...(token ? { token } : {}) };
}

/** The manager refused a request, or could not be reached: its one-line message. */
export class ServerRequestError extends ShadowvmError {
  constructor(code: string, message: string, exitCode = 2) {
    super(code, message, exitCode);
  }
}

async function request<T>(target: ServerTarget, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    throw new ServerRequestError(
      'server-unreachable',
      `cannot reach the manager at ${target.url} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}); is shadowvm serve running?`,
    );
  }
  const text = await response.text();
  const parsed = text.length > 0 && response.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text;
  if (!response.ok) {
    const error = parsed as { code?: string; message?: string };
    throw new ServerRequestError(
      error.code ?? `http-${response.status}`,
      `${target.url}: ${error.message ?? `HTTP ${response.status}`}`,
      response.status === 404 ? 3 : 2,
    );
  }
  return parsed as T;
}

// ---- run ----------------------------------------------------------------------------------------

/** What runs the replicas, as the API's body names it. */
export type RemoteDriver =
  | {
      readonly driver: 'wasm';
      /** A path in the manager's guests directory. */
      readonly guest: string;
      readonly args: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      /** The primary's whole stdin, when this process has one piped in. */
      readonly stdin?: string;
    }
  | {
      readonly driver: 'qemu';
      readonly mode: 'lockstep' | 'free';
      /** A directory in the manager's images directory; its built default guest when absent. */
      readonly image?: string;
      readonly kernelArgs: readonly string[];
      /** An epoch's wall-clock length; the driver's default when absent. */
      readonly epochMs?: number;
    };

export interface RemoteRun {
  readonly driver: RemoteDriver;
  readonly config: ComputationConfig;
  readonly policyText?: string;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly reportPath?: string;
}

const NOTABLE = new Set(['restore-verified', 'fault']);

/** The policy as the API takes it, with --dry-run applied to it and every override. */
function policyBody(text: string | undefined, dryRun: boolean): string | Record<string, unknown> | undefined {
  if (!dryRun) return text;
  const document = ((text ? parseYaml(text) : null) ?? {}) as Record<string, unknown>;
  const overrides = Array.isArray(document.overrides)
    ? (document.overrides as Record<string, unknown>[]).map((o) => ({ ...o, dryRun: true }))
    : undefined;
  return { ...document, dryRun: true, ...(overrides ? { overrides } : {}) };
}

export async function remoteRun(target: ServerTarget, run: RemoteRun): Promise<number> {
  const { config } = run;
  const policy = policyBody(run.policyText, run.dryRun);
  // A QEMU epoch is cut by wall-clock time alone: the driver's epochMs, not the wasm bounds.
  const epochs =
    run.driver.driver === 'wasm'
      ? { epochEvents: config.epochs.events, epochSyscalls: config.epochs.syscalls, epochMs: config.epochs.maxEpochMs }
      : {};
  const created = await request<{ computation: { id: string }; eventId: number }>(target, 'POST', '/api/computations', {
    ...run.driver,
    ...epochs,
    shadows: config.shadows,
    profiles: config.shadowProfiles,
    checkpointEvery: config.checkpointEvery,
    memoryBytes: config.memoryLimitBytes,
    ...(config.maxEpochs !== undefined ? { maxEpochs: config.maxEpochs } : {}),
    ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
    faults: config.faults,
    ...(policy !== undefined ? { policy } : {}),
  });
  const { id } = created.computation;
  await follow(target, id, created.eventId, { notes: !(run.quiet || run.json), endpoints: !run.quiet });
  const row = await request<{ status: ComputationStatus; exitCode: number | null; report: (ComputationReport & { end?: string }) | null }>(
    target,
    'GET',
    `/api/computations/${id}`,
  );
  const report = row.report;
  if (!report || report.computationId === undefined) {
    process.stderr.write(`shadowvm: computation ${id} ${row.status}: ${report?.end ?? 'no report'}\n`);
    return row.exitCode ?? 1;
  }
  if (run.reportPath) writeFileSync(run.reportPath, `${JSON.stringify(report, null, 2)}\n`);
  if (run.json) process.stderr.write(`${JSON.stringify(report)}\n`);
  else if (!run.quiet) process.stderr.write(summary(report));
  return report.exitCode;
}

/**
 * Streams the computation's output until it ends, resuming after drops, with its notable events
 * (`notes`) and where it can be reached (`endpoints`, shown as a standalone run shows them).
 */
async function follow(
  target: ServerTarget,
  id: string,
  fromEventId: number,
  show: { readonly notes: boolean; readonly endpoints: boolean },
): Promise<void> {
  let lastId = fromEventId;
  for (let attempt = 0; attempt < 50; attempt++) {
    let response: Response;
    try {
      response = await fetch(`${target.url}/events?computation=${id}`, {
        headers: { 'last-event-id': String(lastId), ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) },
      });
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    if (!response.ok || !response.body)
      throw new ServerRequestError('events-refused', `${target.url}/events answered HTTP ${response.status}`);
    try {
      for await (const frame of readSse(response.body)) {
        if (frame.id !== undefined) lastId = frame.id;
        const data = JSON.parse(frame.data) as Record<string, unknown>;
        if (frame.event === 'output')
          (data.stream === 'stderr' ? process.stderr : process.stdout).write(Buffer.from(String(data.base64), 'base64'));
        else if (frame.event === 'endpoints' && show.endpoints) {
          for (const endpoint of data.endpoints as Endpoint[]) process.stderr.write(`shadowvm: ${endpoint.note}: ${endpoint.url}\n`);
        } else if (frame.event === 'event' && show.notes && NOTABLE.has(String(data.kind))) {
          const event = data as unknown as ComputationEvent;
          process.stderr.write(`shadowvm: epoch ${event.epoch}: ${event.message}\n`);
        } else if (frame.event === 'verdict' && show.notes) {
          const blamed = Array.isArray(data.blamed) ? data.blamed.map(String) : [];
          process.stderr.write(`shadowvm: epoch ${String(data.epoch)}: ${describeVerdict(String(data.kind), blamed)}\n`);
        } else if (frame.event === 'intervention' && show.notes && data.kind !== 'alert') {
          const action = data as unknown as Parameters<typeof describeAction>[0];
          process.stderr.write(`shadowvm: epoch ${String(data.epoch)}: ${describeAction(action)}\n`);
        } else if (frame.event === 'end') return;
      }
    } catch {
      // The connection dropped: resume from the last event seen.
    }
  }
  throw new ServerRequestError(
    'events-lost',
    `lost the event stream of ${id}; shadowvm log ${id} --server ${target.url} shows what happened`,
  );
}

// ---- list and log -------------------------------------------------------------------------------

interface RemoteComputation {
  id: string;
  name: string;
  image: string;
  status: string;
  exitCode: number | null;
  config: unknown;
  report: unknown;
  createdAt: number;
  updatedAt: number;
  live: unknown;
}

export async function remoteList(target: ServerTarget, options: { status?: string; limit: number; json: boolean }): Promise<number> {
  const query = new URLSearchParams({ limit: String(options.limit), ...(options.status ? { status: options.status } : {}) });
  const { items } = await request<{ items: RemoteComputation[] }>(target, 'GET', `/api/computations?${query}`);
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(
        items.map(({ report, live: _live, ...rest }) => ({ ...rest, hasReport: report !== null })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  const rows = items.map((c) => [
    c.id,
    c.name,
    c.status,
    c.exitCode === null ? '' : String(c.exitCode),
    new Date(c.createdAt).toISOString(),
  ]);
  process.stdout.write(`${table([['id', 'guest', 'status', 'exit', 'created'], ...rows])}\n`);
  return 0;
}

/** The whole differential log in range, page by page, as `shadowvm log` reads it from a store. */
export async function remoteReadLog(target: ServerTarget, id: string, range: { from?: number; to?: number }): Promise<LogPage> {
  const pages: LogPage[] = [];
  for (let from = range.from; ; ) {
    const query = new URLSearchParams({
      limit: '1000',
      ...(from !== undefined ? { from: String(from) } : {}),
      ...(range.to !== undefined ? { to: String(range.to) } : {}),
    });
    const page = await request<LogPage>(target, 'GET', `/api/computations/${id}/log?${query}`);
    pages.push(page);
    if (page.next === null) return joinPages(pages);
    from = page.next;
  }
}

export async function remoteLog(
  target: ServerTarget,
  id: string,
  range: { from?: number; to?: number },
  options: { all: boolean; json: boolean },
): Promise<number> {
  const log = await remoteReadLog(target, id, range);
  if (options.json) process.stdout.write(`${JSON.stringify(log, null, 2)}\n`);
  else process.stdout.write(formatLog(log, options.all));
  return 0;
}
