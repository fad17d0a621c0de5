// The service's metrics stay bounded over many computations: an ended computation's series stay
// until `keptEnded` later computations ended, then go; the ended count stays.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from './event-bus.js';
import { serviceMetrics } from './metrics.js';

test('metrics of ended computations are pruned once newer ones ended', async () => {
  const bus = new EventBus(100);
  const metrics = serviceMetrics({ bus, counts: () => ({ queued: 0, running: 0, finished: 0 }) }, { keptEnded: 2 });
  try {
    const run = (computation: string) => {
      bus.publish('epoch', computation, { vms: { [`${computation}/primary`]: { runMs: 10, digestMs: 1, lagMs: 2, memoryBytes: 300 } } });
      bus.publish('divergence', computation, { vmId: `${computation}/shadow1`, pageCount: 3 });
      bus.publish('score', computation, { scores: { [`${computation}/shadow1`]: 0.9 } });
      bus.publish('end', computation, { status: 'succeeded' });
    };
    const exported = async () =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((line) => line.startsWith('shadowvm_') && !line.startsWith('shadowvm_process_'));
    const about = (lines: string[], computation: string) => lines.filter((line) => line.includes(`computation="${computation}"`));

    bus.publish('epoch', 'c1', { vms: { 'c1/primary': { runMs: 10, digestMs: 1, lagMs: 2, memoryBytes: 300 } } });
    assert.ok(
      about(await exported(), 'c1').some((line) => line.startsWith('shadowvm_memory_bytes')),
      'a running computation has its gauges',
    );

    run('c1');
    let lines = about(await exported(), 'c1');
    assert.ok(lines.includes('shadowvm_prediction_score{computation="c1",vm="c1/shadow1"} 0.9'), 'last values stay after the end');
    assert.ok(lines.includes('shadowvm_epochs_total{computation="c1"} 2'), lines.join('\n'));
    assert.ok(lines.includes('shadowvm_diff_pages_total{computation="c1",vm="c1/shadow1"} 3'), lines.join('\n'));

    run('c2');
    assert.notDeepEqual(about(await exported(), 'c1'), [], 'kept while among the last two ended');
    run('c3');
    lines = await exported();
    assert.deepEqual(about(lines, 'c1'), [], 'the oldest ended computation is gone');
    assert.notDeepEqual(about(lines, 'c3'), []);
    assert.ok(lines.includes('shadowvm_computations_ended_total{status="succeeded"} 3'), lines.join('\n'));
  } finally {
    metrics.close();
  }
});
