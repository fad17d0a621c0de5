// The manager as a service: requests/s of the hot read routes (in-process HTTP load, bounded in
// count and time), and 100 shadowed computations (2 shadows each) through one manager: wall time,
// epochs/s, peak RSS, and that none is lost.

import { call, startTestService, waitFor } from '../src/api/testing.js';
import { GOALS } from './goals.js';
import type { BenchLine } from './line.js';

const LOAD = { connections: 8, maxRequests: 4000, maxMs: 3000 };
const COMPUTATIONS = GOALS.serviceComputations.value;
const GUEST = { guest: 'pipeline.wasm', args: ['7', '1000'], shadows: 2, profiles: ['thread/v8'], epochEvents: 1_000_000 };

async function requestsPerSecond(url: string): Promise<number> {
  let done = 0;
  const started = performance.now();
  const worker = async () => {
    while (done < LOAD.maxRequests && performance.now() - started < LOAD.maxMs) {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      await response.arrayBuffer();
      done++;
    }
  };
  await Promise.all(Array.from({ length: LOAD.connections }, worker));
  return done / ((performance.now() - started) / 1000);
}

export async function run(): Promise<BenchLine[]> {
  const service = await startTestService();
  try {
    const first = await call(service.url, 'POST', '/api/computations', GUEST);
    const id = first.body.computation.id as string;
    await service.manager.whenIdle();
    const getRps = await requestsPerSecond(`${service.url}/api/computations/${id}`);
    const logRps = await requestsPerSecond(`${service.url}/api/computations/${id}/log?limit=100`);

    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const started = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < COMPUTATIONS; i++)
      ids.push((await call(service.url, 'POST', '/api/computations', GUEST)).body.computation.id as string);
    await waitFor(
      'every computation to end',
      () => (service.manager.counts().queued + service.manager.counts().running === 0 ? true : undefined),
      600_000,
    );
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    const rows = ids.map((c) => service.store.computations.get(c));
    const succeeded = rows.filter((row) => row?.status === 'succeeded').length;
    for (const row of rows) {
      if (row?.status !== 'succeeded')
        process.stderr.write(
          `bench service: ${row?.id} ${row?.status}: ${JSON.stringify((row?.report as { end?: string } | null)?.end ?? null)}\n`,
        );
    }
    const epochs = ids.reduce((sum, c) => sum + new Set(service.store.difflog.readEpochs(c).map((e) => e.epoch)).size, 0);
    return [
      { name: 'service: GET /api/computations/:id', value: Math.round(getRps), unit: 'req/s' },
      { name: 'service: GET /api/computations/:id/log (100 epochs)', value: Math.round(logRps), unit: 'req/s' },
      { name: `service: ${COMPUTATIONS} computations × 2 shadows, wall time`, value: wallMs / 1000, unit: 's' },
      {
        name: `service: ${COMPUTATIONS} computations, epochs/s (concurrency ${service.manager.concurrency})`,
        value: epochs / (wallMs / 1000),
        unit: 'epochs/s',
      },
      { name: 'service: manager peak RSS during the run', value: Math.round(peakRss / 2 ** 20), unit: 'MiB' },
      { name: GOALS.serviceComputations.promise, value: succeeded, unit: '', goal: GOALS.serviceComputations },
    ];
  } finally {
    await service.close();
  }
}
