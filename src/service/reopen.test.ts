// A computation can be reopened from the store alone: the spec its row keeps parses back, opens
// the same driver (same module, same digest) and runs the same computation, stdin included; a
// QEMU spec comes back as it was stored and is validated field by field.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { call, startTestService, waitFor } from '../api/testing.js';
import { DEFAULT_CONFIG } from '../computation/config.js';
import { computationRow, launch } from '../computation/launch.js';
import type { ComputationReport } from '../computation/report.js';
import { parseComputationSpec, qemuComputation, SpecVersionError } from '../computation/spec.js';
import { DriverSpecError, openDriver, parseDriverSpec } from '../drivers/open.js';
import { openStore } from '../store/open.js';

test("a finished wasm computation's row reopens the same driver and reruns the same computation", async () => {
  const service = await startTestService();
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-reopen-'));
  try {
    const created = await call(service.url, 'POST', '/api/computations', {
      guest: 'stdin_sum.wasm',
      stdin: '1\n2\n3\n4\n',
      shadows: 1,
      profiles: ['thread/v8'],
    });
    assert.equal(created.status, 202);
    const id = created.body.computation.id as string;
    const done = await waitFor('the computation to finish', async () => {
      const got = await call(service.url, 'GET', `/api/computations/${id}`);
      return got.body.live?.phase === 'finished' ? got.body : undefined;
    });
    assert.equal(done.status, 'succeeded');
    const report = done.report as ComputationReport;

    // The row as another process reads it: only the store.
    const row = service.store.computations.get(id);
    const spec = parseComputationSpec(row?.config);
    assert.equal(spec.driver.kind, 'wasm');
    const opened = await openDriver(spec.driver);
    try {
      assert.equal(opened.driver.name, report.driver);
      assert.equal(opened.image.reference, report.image);
      assert.equal(opened.image.digest, report.moduleHash);
    } finally {
      await opened.driver.close();
    }

    const store = openStore(join(dir, 'again.db'));
    try {
      const out: Buffer[] = [];
      const again = await launch({
        spec,
        store,
        sink: { write: (stream, bytes) => stream === 'stdout' && out.push(Buffer.from(bytes)) },
        writeLine: () => {},
      });
      assert.equal(again.exitCode, 0);
      assert.equal(again.moduleHash, report.moduleHash);
      assert.match(Buffer.concat(out).toString(), /total 10 over 4 numbers/, 'the stdin the manager kept is found again');
    } finally {
      store.close();
    }
  } finally {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stored QEMU spec parses back as it was stored, and a damaged one is refused naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-reopen-'));
  const store = openStore(join(dir, 'store.db'));
  try {
    const spec = qemuComputation({
      mode: 'free',
      image: join(dir, 'guest'),
      kernelArgs: ['shadowvm.rounds=3'],
      epochMs: 200,
      config: { ...DEFAULT_CONFIG, shadows: 1 },
    });
    const row = store.computations.create(computationRow({ name: 'linux-guest (free)', image: join(dir, 'guest'), spec }));
    const stored = store.computations.get(row.id)?.config;
    const parsed = parseComputationSpec(stored);
    assert.deepEqual(parsed, spec);
    assert.deepEqual(parseDriverSpec(parsed.driver), {
      kind: 'qemu',
      mode: 'free',
      image: join(dir, 'guest'),
      kernelArgs: ['shadowvm.rounds=3'],
      epochMs: 200,
    });
    assert.throws(() => parseDriverSpec({ ...parsed.driver, mode: 'paused' }), DriverSpecError);
    assert.throws(() => parseDriverSpec({ ...parsed.driver, mode: 'paused' }), /^DriverSpecError: qemu driver: mode: /);
    assert.throws(() => parseDriverSpec({ ...parsed.driver, kernelArgs: 'shadowvm.rounds=3' }), /qemu driver: kernelArgs: /);
    assert.throws(() => parseComputationSpec({ ...parsed, version: 2 }), SpecVersionError);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
