// Drives free-running replicas with real HTTP traffic to the primary's forwarded port, for the
// tests and the benchmark: requests are made while the replicas run an epoch.
import { request } from 'node:http';
import type { EpochReport } from '../types.js';
import { type Replica, step } from './harness.js';

export interface HttpResult {
  readonly path: string;
  /** HTTP status, or 0 when the request failed (refused, reset, timed out). */
  readonly status: number;
  readonly body: string;
}

/** One GET to 127.0.0.1:port (no keep-alive: one TCP connection per request). */
export function httpGet(port: number, path: string, timeoutMs = 4000): Promise<HttpResult> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ path, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', () => resolve({ path, status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ path, status: 0, body: '' }));
    req.end();
  });
}

/** Runs one epoch on every replica while GETting `paths` in turn from the primary. */
export async function stepWithTraffic(
  replicas: readonly Replica[],
  port: number,
  paths: readonly string[],
): Promise<{ reports: EpochReport[]; results: HttpResult[] }> {
  const stepping = step(replicas);
  const results: HttpResult[] = [];
  for (const path of paths) results.push(await httpGet(port, path));
  return { reports: await stepping, results };
}

/** Steps until the primary's guest answers `path` (it boots during the first epochs). */
export async function stepUntilServing(
  replicas: readonly Replica[],
  port: number,
  path: string,
  maxEpochs: number,
): Promise<EpochReport[]> {
  for (let i = 0; i < maxEpochs; i++) {
    const { reports, results } = await stepWithTraffic(replicas, port, [path]);
    if (results[0]?.status === 200) return reports;
  }
  throw new Error(`the primary's guest did not serve ${path} within ${maxEpochs} epochs`);
}

/** Guest-physical addresses where `marker` occurs in a RAM image. */
export function findInRam(memory: Buffer, marker: string): number[] {
  const addresses: number[] = [];
  for (let at = memory.indexOf(marker); at >= 0; at = memory.indexOf(marker, at + 1)) addresses.push(at);
  return addresses;
}
