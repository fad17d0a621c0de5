// The behaviour every Store must have, whatever database is behind it: run by sqlite/store.test.ts
// and postgres/store.test.ts against their own stores, so both are held to the same checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EpochMetrics, InputRecord } from '../drivers/types.js';
import { CheckpointNotFoundError, ComputationNotFoundError, InputLogOrderError, VmNotFoundError } from './errors.js';
import { storedInputLog } from './input-log-reader.js';
import type { EpochAppend, NewCheckpoint, Store } from './types.js';

/** How the contract reaches the store under test. */
export interface StoreSubject {
  /** A new, empty database: a file path or a URL, different on every call. */
  fresh(): string;
  open(location: string): Store;
}

function metrics(memoryBytes: number, extra?: Record<string, number>): EpochMetrics {
  return { instructions: 1000, runMs: 1.5, digestMs: 0.25, memoryBytes, syscalls: 3, ...(extra ? { extra } : {}) };
}

function epochBatch(computationId: string, epoch: number, deltaPages: number[] = []): EpochAppend {
  return {
    record: {
      computationId,
      epoch,
      verified: deltaPages.length === 0,
      metrics: { p: metrics(16 * 4096), s1: metrics(16 * 4096, { lagMs: 2 }) },
    },
    divergences:
      deltaPages.length === 0
        ? []
        : [
            {
              divergence: {
                computationId,
                epoch,
                vmId: 's1',
                kind: 'pages',
                summary: `${deltaPages.length} pages differ`,
                pageCount: deltaPages.length,
              },
              deltas: deltaPages.map((page) => ({ page, delta: new Uint8Array([0, 0, 1, page & 0xff]) })),
            },
            {
              divergence: {
                computationId,
                epoch,
                vmId: 's1',
                kind: 'registers',
                summary: 'pc differs',
                pageCount: 0,
                registers: [{ name: 'pc', primary: '0x10', shadow: null }],
              },
              deltas: [],
            },
          ],
  };
}

/** Registers the contract's tests (node:test) against the subject's stores. */
export function storeContract(subject: StoreSubject): void {
  function withStore<T>(location: string, use: (store: Store) => T): T {
    const store = subject.open(location);
    try {
      return use(store);
    } finally {
      store.close();
    }
  }

  test('computation ids are short and readable', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'n', image: 'i.wasm', config: {} });
      assert.match(id, /^c-[0-9a-hjkmnp-tv-z]{10}$/);
    });
  });

  test('computations and VMs round-trip, and survive a restart', () => {
    const location = subject.fresh();
    const id = withStore(location, (store) => {
      const c = store.computations.create({ name: 'sum', image: 'sum.wasm', config: { shadows: 2, tags: ['a'] } });
      assert.equal(c.status, 'created');
      store.computations.update(c.id, { status: 'running' });
      store.computations.update(c.id, { status: 'succeeded', exitCode: 0, report: { verifiedEpochs: 12 } });
      store.vms.create({ computationId: c.id, vmId: 'p', role: 'primary', profile: { name: 'worker/v8', dimensions: { host: 'worker' } } });
      store.vms.create({ computationId: c.id, vmId: 's1', role: 'shadow', profile: { name: 'process/liftoff', dimensions: {} } });
      store.vms.setStatus(c.id, 'p', 'running');
      store.vms.end(c.id, 's1', { kind: 'trap', message: 'unreachable' });
      assert.throws(() => store.vms.end(c.id, 'nope', { kind: 'exit', code: 1 }), VmNotFoundError);
      assert.throws(() => store.computations.update('c-missing', { status: 'failed' }), ComputationNotFoundError);
      assert.throws(
        () => store.vms.create({ computationId: 'c-missing', vmId: 'p', role: 'primary', profile: { name: 'x', dimensions: {} } }),
        ComputationNotFoundError,
      );
      return c.id;
    });
    withStore(location, (store) => {
      const c = store.computations.get(id);
      assert.ok(c);
      assert.deepEqual([c.status, c.exitCode, c.report, c.config], ['succeeded', 0, { verifiedEpochs: 12 }, { shadows: 2, tags: ['a'] }]);
      assert.deepEqual(
        store.computations.list({ status: 'succeeded' }).map((x) => x.id),
        [id],
      );
      assert.deepEqual(store.computations.list({ status: 'running' }), []);
      assert.equal(store.computations.get('c-unknown'), null);
      const vms = store.vms.list(id);
      assert.deepEqual(
        vms.map((v) => [v.vmId, v.role, v.status, v.end]),
        [
          ['p', 'primary', 'running', null],
          ['s1', 'shadow', 'ended', { kind: 'trap', message: 'unreachable' }],
        ],
      );
      assert.deepEqual(vms[0]?.profile, { name: 'worker/v8', dimensions: { host: 'worker' } });
      // A VM re-created after a rollback starts again.
      store.vms.create({ computationId: id, vmId: 's1', role: 'shadow', profile: { name: 'process/liftoff', dimensions: {} } });
      assert.deepEqual(
        store.vms.list(id).map((v) => [v.vmId, v.status, v.end]),
        [
          ['p', 'running', null],
          ['s1', 'starting', null],
        ],
      );
    });
  });

  test('epochs, divergences and page deltas round-trip with ranges and pages', () => {
    const location = subject.fresh();
    withStore(location, (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      for (let epoch = 1; epoch <= 5; epoch++)
        store.difflog.appendEpoch(epochBatch(id, epoch, epoch % 2 === 0 ? [epoch, 100 + epoch] : []));
      const { divergenceIds } = store.difflog.appendEpoch(epochBatch(id, 6, [7]));
      assert.equal(divergenceIds.length, 2);

      const epochs = store.difflog.readEpochs(id, { from: 2, to: 4 });
      assert.deepEqual(
        epochs.map((e) => [e.epoch, e.verified]),
        [
          [2, false],
          [3, true],
          [4, false],
        ],
      );
      assert.deepEqual(epochs[0]?.metrics, { p: metrics(16 * 4096), s1: metrics(16 * 4096, { lagMs: 2 }) });

      const first = store.difflog.readDivergences(id, { limit: 3 });
      assert.equal(first.items.length, 3);
      assert.ok(first.next !== null);
      const rest = store.difflog.readDivergences(id, { limit: 3, after: first.next });
      assert.equal(rest.next, null);
      assert.deepEqual(
        [...first.items, ...rest.items].map((d) => [d.epoch, d.kind]),
        [
          [2, 'pages'],
          [2, 'registers'],
          [4, 'pages'],
          [4, 'registers'],
          [6, 'pages'],
          [6, 'registers'],
        ],
      );
      const registers = rest.items.find((d) => d.kind === 'registers');
      assert.ok(registers?.kind === 'registers');
      assert.deepEqual(registers.registers, [{ name: 'pc', primary: '0x10', shadow: null }]);
      assert.deepEqual(
        store.difflog.readDivergences(id, { from: 4, to: 4 }).items.map((d) => d.kind),
        ['pages', 'registers'],
      );

      const pagesDivergence = first.items[2];
      assert.ok(pagesDivergence);
      const deltas = store.difflog.readPageDeltas(pagesDivergence.id);
      assert.deepEqual(
        deltas.map((d) => [d.page, [...d.delta]]),
        [
          [4, [0, 0, 1, 4]],
          [104, [0, 0, 1, 104]],
        ],
      );
    });
  });

  test('an epoch is written in one transaction: a failing batch leaves nothing behind', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const batch = epochBatch(id, 1, [3, 3]); // the same page twice violates the delta key
      assert.throws(() => store.difflog.appendEpoch(batch));
      assert.deepEqual(store.difflog.readEpochs(id), []);
      assert.deepEqual(store.difflog.readDivergences(id).items, []);
      assert.throws(() => store.difflog.appendEpoch(epochBatch('c-missing', 1)), ComputationNotFoundError);
    });
  });

  test('the input log appends in order, reads from any seq, and refuses gaps', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const records: InputRecord[] = Array.from({ length: 1200 }, (_, seq) => ({
        seq,
        epoch: Math.floor(seq / 100),
        kind: seq % 2 === 0 ? 'clock' : 'random',
        payload: new Uint8Array([seq & 0xff, seq >> 8]),
      }));
      store.inputs.append(id, records.slice(0, 700));
      store.inputs.append(id, records.slice(700));
      assert.equal(store.inputs.count(id), 1200);
      assert.throws(
        () => store.inputs.append(id, [{ seq: 1201, epoch: 12, kind: 'clock', payload: new Uint8Array() }]),
        InputLogOrderError,
      );
      assert.throws(() => store.inputs.append(id, [{ seq: 5, epoch: 12, kind: 'clock', payload: new Uint8Array() }]), InputLogOrderError);
      const read = store.inputs.read(id, 1195);
      assert.deepEqual(
        read.map((r) => [r.seq, r.kind, [...r.payload]]),
        records.slice(1195).map((r) => [r.seq, r.kind, [...r.payload]]),
      );

      const log = storedInputLog(store.inputs, id);
      assert.equal(log.length, 1200);
      const replayed = [...log.read(100)];
      assert.equal(replayed.length, 1100);
      assert.deepEqual(
        replayed.map((r) => r.seq),
        records.slice(100).map((r) => r.seq),
      );
    });
  });

  test('audit trail and predictions round-trip', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const stored = store.audit.appendIntervention({
        computationId: id,
        vmId: 'p',
        epoch: 9,
        kind: 'rollback',
        reason: 'failure predicted by cusum (score 7.2 > 5)',
        score: 7.2,
        outcome: 'rolled back to epoch 6',
        detail: { checkpoint: 'k-x' },
      });
      assert.ok(stored.id > 0);
      store.audit.appendIntervention({
        computationId: id,
        vmId: null,
        epoch: null,
        kind: 'alert',
        reason: 'r',
        score: null,
        outcome: null,
        detail: null,
      });
      assert.deepEqual(
        store.audit.listInterventions(id).map((i) => [i.kind, i.score, i.outcome, i.detail]),
        [
          ['rollback', 7.2, 'rolled back to epoch 6', { checkpoint: 'k-x' }],
          ['alert', null, null, null],
        ],
      );
      store.audit.appendPredictions([
        { computationId: id, vmId: 's1', epoch: 3, detector: 'ewma', score: 0.7, level: 'warning' },
        { computationId: id, vmId: 's1', epoch: 8, detector: 'cusum', score: 7.2, level: 'failure' },
      ]);
      assert.deepEqual(
        store.audit.listPredictions(id, { from: 5 }).map((p) => [p.epoch, p.detector, p.level]),
        [[8, 'cusum', 'failure']],
      );
    });
  });

  test('stats count logged bytes against what a full capture would hold', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const empty = store.stats(id);
      assert.equal(empty.bytesLogged, 0);
      store.difflog.appendEpoch(epochBatch(id, 1));
      store.difflog.appendEpoch(epochBatch(id, 2, [1, 2]));
      const stats = store.stats(id);
      assert.deepEqual([stats.epochs, stats.divergences, stats.pageDeltas], [2, 2, 2]);
      assert.equal(stats.deltaBytes, 2 * (16 + 4));
      assert.equal(stats.fullCaptureBytes, 2 * 2 * 16 * 4096);
      assert.equal(stats.bytesLogged, stats.metricsBytes + stats.divergenceBytes + stats.deltaBytes);
      assert.ok(stats.bytesLogged < stats.fullCaptureBytes);
    });
  });
  test('a patch changes only the fields it gives, and can clear them', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      store.computations.update(id, { status: 'failed', exitCode: 3, report: { why: 'trap' } });
      const kept = store.computations.update(id, { status: 'cancelled' });
      assert.deepEqual([kept.status, kept.exitCode, kept.report], ['cancelled', 3, { why: 'trap' }]);
      const cleared = store.computations.update(id, { exitCode: null, report: null });
      assert.deepEqual([cleared.status, cleared.exitCode, cleared.report], ['cancelled', null, null]);
      assert.ok(cleared.updatedAt >= cleared.createdAt);
    });
  });

  test('checkpoints store changed rows, pages once per key, and refuse missing parents', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const page = (fill: number) => new Uint8Array(4096).fill(fill);
      const base: NewCheckpoint = {
        computationId: id,
        parentId: null,
        epoch: 4,
        pageSize: 4096,
        pageCount: 3,
        registers: { g0: '7' },
        driverState: { fuel: '100' },
        rootDigest: 'root-1',
        digest: { pageSize: 4096, pageHashes: new Uint8Array(48).fill(9), registers: { g0: '7' }, outputs: { stdout: 'ab' } },
      };
      const first = store.checkpoints.save(
        base,
        [
          { page: 0, key: 'k1' },
          { page: 1, key: null },
          { page: 2, key: 'k2' },
        ],
        [
          { key: 'k1', bytes: page(1) },
          { key: 'k2', bytes: page(2) },
        ],
      );
      const second = store.checkpoints.save(
        { ...base, parentId: first.id, epoch: 8, rootDigest: 'root-2', digest: null },
        [{ page: 2, key: 'k1' }],
        [{ key: 'k1', bytes: page(1) }],
      );
      assert.match(first.id, /^k-[0-9a-hjkmnp-tv-z]{10}$/);
      assert.deepEqual([first.seq, second.seq, second.parentId, first.verified], [1, 2, first.id, false]);
      assert.deepEqual(store.checkpoints.get(first.id)?.digest, base.digest);
      assert.equal(store.checkpoints.get(second.id)?.digest, null);
      assert.deepEqual(store.checkpoints.entries(first.id), [
        { page: 0, key: 'k1' },
        { page: 1, key: null },
        { page: 2, key: 'k2' },
      ]);
      assert.deepEqual(store.checkpoints.entries(second.id), [{ page: 2, key: 'k1' }]);
      assert.deepEqual(store.checkpoints.pageStats(), { pages: 2, bytes: 2 * 4096 });
      assert.deepEqual(store.checkpoints.readPage('k2'), page(2));
      assert.equal(store.checkpoints.readPage('k-nope'), null);
      store.checkpoints.markVerified(second.id);
      assert.deepEqual(
        store.checkpoints.list(id).map((c) => [c.seq, c.epoch, c.verified]),
        [
          [1, 4, false],
          [2, 8, true],
        ],
      );
      assert.throws(() => store.checkpoints.markVerified('k-missing'), CheckpointNotFoundError);
      assert.throws(() => store.checkpoints.save({ ...base, parentId: 'k-missing' }, [], []), CheckpointNotFoundError);
      assert.throws(() => store.checkpoints.save({ ...base, computationId: 'c-missing' }, [], []), ComputationNotFoundError);
      assert.equal(store.checkpoints.list(id).length, 2);
    });
  });

  test('reopening keeps the data and applies no migration twice', () => {
    const location = subject.fresh();
    const id = withStore(location, (store) => store.computations.create({ name: 'x', image: 'x.wasm', config: null }).id);
    withStore(location, () => undefined);
    withStore(location, (store) => assert.equal(store.computations.get(id)?.name, 'x'));
  });
}
