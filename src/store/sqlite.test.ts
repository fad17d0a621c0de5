import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EpochMetrics, InputRecord } from '../drivers/types.js';
import {
  ComputationNotFoundError,
  InputLogOrderError,
  NotAShadowvmDatabaseError,
  SchemaTooNewError,
  StoreOpenError,
  VmNotFoundError,
} from './errors.js';
import { storedInputLog } from './input-log-reader.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';
import { openSqliteStore } from './sqlite.js';
import type { EpochAppend, Store } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'shadowvm-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function freshPath(): string {
  return join(dir, `db-${files++}.db`);
}

function withStore<T>(path: string, use: (store: Store) => T): T {
  const store = openSqliteStore({ path });
  try {
    return use(store);
  } finally {
    store.close();
  }
}

function metrics(memoryPages: number, extra?: Record<string, number>): EpochMetrics {
  return { instructions: 1000, runMs: 1.5, digestMs: 0.25, memoryPages, syscalls: 3, ...(extra ? { extra } : {}) };
}

function epochBatch(computationId: string, epoch: number, deltaPages: number[] = []): EpochAppend {
  return {
    record: { computationId, epoch, verified: deltaPages.length === 0, metrics: { p: metrics(16), s1: metrics(16, { lagMs: 2 }) } },
    divergences:
      deltaPages.length === 0
        ? []
        : [
            {
              divergence: { computationId, epoch, vmId: 's1', kind: 'pages', summary: `${deltaPages.length} pages differ`, pageCount: deltaPages.length },
              deltas: deltaPages.map((page) => ({ page, delta: new Uint8Array([0, 0, 1, page & 0xff]) })),
            },
            {
              divergence: { computationId, epoch, vmId: 's1', kind: 'registers', summary: 'pc differs', pageCount: 0, registers: [{ name: 'pc', primary: '0x10', shadow: null }] },
              deltas: [],
            },
          ],
  };
}

test('computation ids are short and readable', () => {
  withStore(freshPath(), (store) => {
    const { id } = store.computations.create({ name: 'n', image: 'i.wasm', config: {} });
    assert.match(id, /^c-[0-9a-hjkmnp-tv-z]{10}$/);
  });
});

test('computations and VMs round-trip, and survive a restart', () => {
  const path = freshPath();
  const id = withStore(path, (store) => {
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
  withStore(path, (store) => {
    const c = store.computations.get(id);
    assert.ok(c);
    assert.deepEqual([c.status, c.exitCode, c.report, c.config], ['succeeded', 0, { verifiedEpochs: 12 }, { shadows: 2, tags: ['a'] }]);
    assert.deepEqual(store.computations.list({ status: 'succeeded' }).map((x) => x.id), [id]);
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
    assert.deepEqual(store.vms.list(id).map((v) => [v.vmId, v.status, v.end]), [['p', 'running', null], ['s1', 'starting', null]]);
  });
});

test('epochs, divergences and page deltas round-trip with ranges and pages', () => {
  const path = freshPath();
  withStore(path, (store) => {
    const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
    for (let epoch = 1; epoch <= 5; epoch++) store.difflog.appendEpoch(epochBatch(id, epoch, epoch % 2 === 0 ? [epoch, 100 + epoch] : []));
    const { divergenceIds } = store.difflog.appendEpoch(epochBatch(id, 6, [7]));
    assert.equal(divergenceIds.length, 2);

    const epochs = store.difflog.readEpochs(id, { from: 2, to: 4 });
    assert.deepEqual(epochs.map((e) => [e.epoch, e.verified]), [[2, false], [3, true], [4, false]]);
    assert.deepEqual(epochs[0]?.metrics, { p: metrics(16), s1: metrics(16, { lagMs: 2 }) });

    const first = store.difflog.readDivergences(id, { limit: 3 });
    assert.equal(first.items.length, 3);
    assert.ok(first.next !== null);
    const rest = store.difflog.readDivergences(id, { limit: 3, after: first.next });
    assert.equal(rest.next, null);
    assert.deepEqual([...first.items, ...rest.items].map((d) => [d.epoch, d.kind]), [
      [2, 'pages'], [2, 'registers'], [4, 'pages'], [4, 'registers'], [6, 'pages'], [6, 'registers'],
    ]);
    const registers = rest.items.find((d) => d.kind === 'registers');
    assert.ok(registers?.kind === 'registers');
    assert.deepEqual(registers.registers, [{ name: 'pc', primary: '0x10', shadow: null }]);
    assert.deepEqual(store.difflog.readDivergences(id, { from: 4, to: 4 }).items.map((d) => d.kind), ['pages', 'registers']);

    const pagesDivergence = first.items[2];
    assert.ok(pagesDivergence);
    const deltas = store.difflog.readPageDeltas(pagesDivergence.id);
    assert.deepEqual(deltas.map((d) => [d.page, [...d.delta]]), [[4, [0, 0, 1, 4]], [104, [0, 0, 1, 104]]]);
  });
});

test('an epoch is written in one transaction: a failing batch leaves nothing behind', () => {
  withStore(freshPath(), (store) => {
    const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
    const batch = epochBatch(id, 1, [3, 3]); // the same page twice violates the delta key
    assert.throws(() => store.difflog.appendEpoch(batch));
    assert.deepEqual(store.difflog.readEpochs(id), []);
    assert.deepEqual(store.difflog.readDivergences(id).items, []);
    assert.throws(() => store.difflog.appendEpoch(epochBatch('c-missing', 1)), ComputationNotFoundError);
  });
});

test('the input log appends in order, reads from any seq, and refuses gaps', () => {
  withStore(freshPath(), (store) => {
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
    assert.throws(() => store.inputs.append(id, [{ seq: 1201, epoch: 12, kind: 'clock', payload: new Uint8Array() }]), InputLogOrderError);
    assert.throws(() => store.inputs.append(id, [{ seq: 5, epoch: 12, kind: 'clock', payload: new Uint8Array() }]), InputLogOrderError);
    const read = store.inputs.read(id, 1195);
    assert.deepEqual(read.map((r) => [r.seq, r.kind, [...r.payload]]), records.slice(1195).map((r) => [r.seq, r.kind, [...r.payload]]));

    const log = storedInputLog(store.inputs, id);
    assert.equal(log.length, 1200);
    const replayed = [...log.read(100)];
    assert.equal(replayed.length, 1100);
    assert.deepEqual(replayed.map((r) => r.seq), records.slice(100).map((r) => r.seq));
  });
});

test('audit trail and predictions round-trip', () => {
  withStore(freshPath(), (store) => {
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
    store.audit.appendIntervention({ computationId: id, vmId: null, epoch: null, kind: 'alert', reason: 'r', score: null, outcome: null, detail: null });
    assert.deepEqual(store.audit.listInterventions(id).map((i) => [i.kind, i.score, i.outcome, i.detail]), [
      ['rollback', 7.2, 'rolled back to epoch 6', { checkpoint: 'k-x' }],
      ['alert', null, null, null],
    ]);
    store.audit.appendPredictions([
      { computationId: id, vmId: 's1', epoch: 3, detector: 'ewma', score: 0.7, level: 'warning' },
      { computationId: id, vmId: 's1', epoch: 8, detector: 'cusum', score: 7.2, level: 'failure' },
    ]);
    assert.deepEqual(store.audit.listPredictions(id, { from: 5 }).map((p) => [p.epoch, p.detector, p.level]), [[8, 'cusum', 'failure']]);
  });
});

test('stats count logged bytes against what a full capture would hold', () => {
  withStore(freshPath(), (store) => {
    const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
    const empty = store.stats(id);
    assert.equal(empty.bytesLogged, 0);
    store.difflog.appendEpoch(epochBatch(id, 1));
    store.difflog.appendEpoch(epochBatch(id, 2, [1, 2]));
    const stats = store.stats(id);
    assert.deepEqual([stats.epochs, stats.divergences, stats.pageDeltas], [2, 2, 2]);
    assert.equal(stats.deltaBytes, 2 * (16 + 4));
    assert.equal(stats.fullCapturePages, 2 * 2 * 16);
    assert.equal(stats.bytesLogged, stats.metricsBytes + stats.divergenceBytes + stats.deltaBytes);
    assert.ok(stats.bytesLogged < stats.fullCapturePages * 4096);
  });
});

test('the default database lives in .shadowvm under the working directory', () => {
  const cwd = join(dir, 'project');
  mkdirSync(cwd);
  const store = openSqliteStore({ cwd });
  store.close();
  assert.equal(store.location, join(cwd, '.shadowvm', 'shadowvm.db'));
  assert.ok(existsSync(store.location));
});

test('reopening applies no migration twice and keeps the data', () => {
  const path = freshPath();
  const id = withStore(path, (store) => store.computations.create({ name: 'x', image: 'x.wasm', config: null }).id);
  withStore(path, () => undefined);
  withStore(path, (store) => assert.ok(store.computations.get(id)));
  const db = new Database(path, { readonly: true });
  try {
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(versions, Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  } finally {
    db.close();
  }
});

test('a file that is not a shadowvm database fails with a typed error naming it', () => {
  const text = freshPath();
  writeFileSync(text, 'hello, this is not SQLite at all '.repeat(200));
  assert.throws(() => openSqliteStore({ path: text }), (error: unknown) => {
    assert.ok(error instanceof NotAShadowvmDatabaseError);
    assert.ok(error.message.includes(text));
    return true;
  });

  const foreign = freshPath();
  const db = new Database(foreign);
  db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
  db.close();
  assert.throws(() => openSqliteStore({ path: foreign }), NotAShadowvmDatabaseError);
});

test('a database from a newer shadowvm fails with a typed error', () => {
  const path = freshPath();
  withStore(path, () => undefined);
  const db = new Database(path);
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_SCHEMA_VERSION + 1, 'future', 0);
  db.close();
  assert.throws(() => openSqliteStore({ path }), SchemaTooNewError);
});

test('a path that cannot be a database file fails with a typed error', () => {
  const directory = join(dir, 'a-directory');
  mkdirSync(directory);
  assert.throws(() => openSqliteStore({ path: directory }), StoreOpenError);
});
