// The behaviour every Store must have, whatever database is behind it: run by sqlite/store.test.ts
// and postgres/store.test.ts against their own stores, so both are held to the same checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VerdictRecord } from '../difflog/types.js';
import type { EpochMetrics, InputRecord } from '../drivers/types.js';
import {
  AlertNotFoundError,
  CheckpointNotFoundError,
  ComputationNotFoundError,
  InputLogOrderError,
  VerdictNotFoundError,
  VmNotFoundError,
} from './errors.js';
import { storedInputLog } from './input-log-reader.js';
import type { SqlStatement, SqlValue } from './rows/sql.js';
import type { EpochAppend, NewAction, NewCheckpoint, Store } from './types.js';

/** How the contract reaches the store under test. */
export interface StoreSubject {
  /** A new, empty database: a file path or a URL, different on every call. */
  fresh(): string;
  open(location: string): Store;
  /**
   * Leaves the fresh database at `location` as an older shadowvm would have: migrated up to
   * schema `version` only, holding the rows `statements` insert (SQL both dialects run).
   */
  legacy(location: string, version: number, statements: readonly SqlStatement[]): void;
}

function metrics(memoryBytes: number, extra?: Record<string, number>): EpochMetrics {
  return { instructions: 1000, runMs: 1.5, digestMs: 0.25, memoryBytes, syscalls: 3, ...(extra ? { extra } : {}) };
}

function epochBatch(computationId: string, epoch: number, deltaPages: number[] = []): EpochAppend {
  return {
    record: {
      computationId,
      epoch,
      attempt: 1,
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
                attempt: 1,
                vmId: 's1',
                peerVmId: 'p',
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
                attempt: 1,
                vmId: 's1',
                peerVmId: 'p',
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

/** The vote at an epoch whose replicas differed with no majority. */
function undecided(computationId: string, epoch: number, attempt: number): Omit<VerdictRecord, 'resolution'> {
  return { computationId, epoch, attempt, kind: 'undecided', blamed: [], majority: [], differing: ['p', 's1', 's2'] };
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
        epochs.map((e) => [e.epoch, e.attempt, e.verified]),
        [
          [2, 1, false],
          [3, 1, true],
          [4, 1, false],
        ],
      );
      assert.deepEqual(epochs[0]?.metrics, { p: metrics(16 * 4096), s1: metrics(16 * 4096, { lagMs: 2 }) });

      const first = store.difflog.readDivergences(id, { limit: 3 });
      assert.equal(first.items.length, 3);
      assert.ok(first.next !== null);
      const rest = store.difflog.readDivergences(id, { limit: 3, after: first.next });
      assert.equal(rest.next, null);
      assert.deepEqual(
        [...first.items, ...rest.items].map((d) => [d.epoch, d.kind, d.attempt, d.vmId, d.peerVmId]),
        [
          [2, 'pages', 1, 's1', 'p'],
          [2, 'registers', 1, 's1', 'p'],
          [4, 'pages', 1, 's1', 'p'],
          [4, 'registers', 1, 's1', 'p'],
          [6, 'pages', 1, 's1', 'p'],
          [6, 'registers', 1, 's1', 'p'],
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

  test('an epoch resolved again logs each attempt, in the order they were logged', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const first = epochBatch(id, 3, [5]);
      store.difflog.appendEpoch(first);
      const retry = epochBatch(id, 3);
      store.difflog.appendEpoch({ ...retry, record: { ...retry.record, attempt: 2 } });
      assert.deepEqual(
        store.difflog.readEpochs(id).map((e) => [e.epoch, e.attempt, e.verified]),
        [
          [3, 1, false],
          [3, 2, true],
        ],
      );
      const divergence = first.divergences[0]?.divergence;
      assert.ok(divergence);
      const { divergenceIds } = store.difflog.appendEpoch({
        record: { ...retry.record, attempt: 3, verified: false },
        divergences: [{ divergence: { ...divergence, attempt: 3, vmId: 's2', peerVmId: 's1' }, deltas: [] }],
      });
      const stored = store.difflog.readDivergences(id).items.find((d) => d.id === divergenceIds[0]);
      assert.deepEqual([stored?.epoch, stored?.attempt, stored?.vmId, stored?.peerVmId], [3, 3, 's2', 's1']);
    });
  });

  test('a verdict is logged with its epoch, read back by range in order, and settled once', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      assert.equal(store.difflog.appendEpoch(epochBatch(id, 1)).verdictId, null);
      const decided: Omit<VerdictRecord, 'resolution'> = {
        computationId: id,
        epoch: 2,
        attempt: 1,
        kind: 'primary-diverged',
        blamed: ['p'],
        majority: ['s1', 's2'],
        differing: [],
      };
      const first = store.difflog.appendEpoch({ ...epochBatch(id, 2, [4]), verdict: decided }).verdictId;
      const second = store.difflog.appendEpoch({ ...epochBatch(id, 4, [4]), verdict: undecided(id, 4, 1) }).verdictId;
      assert.ok(first !== null && second !== null);
      assert.ok(second > first);

      const verdicts = store.difflog.readVerdicts(id);
      assert.deepEqual(
        verdicts.map(({ id: _id, at: _at, ...verdict }) => verdict),
        [
          { ...decided, resolution: null },
          { ...undecided(id, 4, 1), resolution: null },
        ],
      );
      assert.deepEqual(
        verdicts.map((v) => v.id),
        [first, second],
      );
      assert.deepEqual(
        store.difflog.readVerdicts(id, { from: 3 }).map((v) => v.epoch),
        [4],
      );
      assert.deepEqual(store.difflog.readVerdicts(id, { to: 1 }), []);

      store.difflog.resolveVerdict(second, { attempt: 2, kind: 'blamed', blamed: ['s1'] });
      // A later settlement does not overwrite the first one.
      store.difflog.resolveVerdict(second, { attempt: 3, kind: 'dropped', blamed: ['s2'] });
      assert.deepEqual(
        store.difflog.readVerdicts(id).map((v) => v.resolution),
        [null, { attempt: 2, kind: 'blamed', blamed: ['s1'] }],
      );
      assert.throws(() => store.difflog.resolveVerdict(second + 1000, { attempt: 2, kind: 'transient', blamed: [] }), VerdictNotFoundError);
    });
  });

  test('a failing epoch batch logs no verdict either', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      assert.throws(() => store.difflog.appendEpoch({ ...epochBatch(id, 1, [3, 3]), verdict: undecided(id, 1, 1) }));
      assert.deepEqual(store.difflog.readVerdicts(id), []);
      assert.deepEqual(store.difflog.readEpochs(id), []);
    });
  });

  test('events are the timeline: appended and listed in order, for known computations only', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const first = store.audit.appendEvent({
        computationId: id,
        vmId: 'p',
        epoch: 9,
        kind: 'rollback',
        message: 'rollback of the primary to verified checkpoint k-x (epoch 6)',
        detail: { checkpoint: 'k-x', checkpointEpoch: 6 },
      });
      const second = store.audit.appendEvent({
        computationId: id,
        vmId: null,
        epoch: null,
        kind: 'note',
        message: 'policy replaced',
        detail: null,
      });
      assert.ok(first.id > 0 && second.id > first.id);
      assert.ok(first.at > 0);
      assert.deepEqual(store.audit.listEvents(id), [first, second]);
      assert.deepEqual(
        store.audit.listEvents(id).map((e) => [e.kind, e.vmId, e.epoch, e.message, e.detail]),
        [
          ['rollback', 'p', 9, 'rollback of the primary to verified checkpoint k-x (epoch 6)', { checkpoint: 'k-x', checkpointEpoch: 6 }],
          ['note', null, null, 'policy replaced', null],
        ],
      );
      assert.throws(
        () => store.audit.appendEvent({ computationId: 'c-missing', vmId: null, epoch: 1, kind: 'note', message: 'm', detail: null }),
        ComputationNotFoundError,
      );
    });
  });

  test('actions keep their actor and cause, one row per action, in order', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const base: Omit<NewAction, 'cause' | 'actor'> = {
        computationId: id,
        epoch: 7,
        kind: 'rollback',
        vmId: 'p',
        reason: 'the vote blamed the primary',
        status: 'applied',
        outcome: 'rolled back to epoch 6',
        dryRun: false,
      };
      const actions: NewAction[] = [
        { ...base, actor: 'vote', cause: { kind: 'verdict', epoch: 7, attempt: 1, verdict: 'primary-diverged', blamed: ['p'] } },
        {
          ...base,
          kind: 'raise-memory',
          actor: 'policy',
          cause: { kind: 'prediction', predictionId: 12, rule: 'forecast.memory', level: null, score: 0.9 },
          status: 'dry-run',
          dryRun: true,
        },
        { ...base, kind: 'retry', vmId: null, actor: 'api', cause: { kind: 'request', reason: 'operator asked' } },
      ];
      const stored = actions.map((action) => store.audit.appendAction(action));
      assert.deepEqual(
        stored.map(({ id: _id, at: _at, ...action }) => action),
        actions,
      );
      assert.deepEqual(store.audit.listActions(id), stored);
      assert.ok(stored.every((action, i) => i === 0 || action.id > (stored[i - 1]?.id ?? Infinity)));
      assert.throws(
        () => store.audit.appendAction({ ...base, computationId: 'c-missing', actor: 'cli', cause: { kind: 'request', reason: 'r' } }),
        ComputationNotFoundError,
      );
    });
  });

  test('alerts stay open until resolved, and keep their first resolution', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      const fired = store.audit.openAlert({
        computationId: id,
        vmId: 's1',
        name: 'predict-failure',
        severity: 'critical',
        epoch: 5,
        reason: 'score 0.91 at or above the enter threshold',
      });
      const other = store.audit.openAlert({
        computationId: id,
        vmId: 'p',
        name: 'forecast-memory',
        severity: 'warning',
        epoch: 6,
        reason: 'r',
      });
      assert.deepEqual([fired.resolvedEpoch, fired.resolvedAt, fired.resolution], [null, null, null]);
      assert.ok(fired.firedAt > 0 && other.id > fired.id);

      store.audit.resolveAlert(fired.id, { epoch: 9, reason: 'score back under the exit threshold' });
      store.audit.resolveAlert(fired.id, { epoch: 12, reason: 'computation ended' });
      const [resolved, open] = store.audit.listAlerts(id);
      assert.deepEqual(
        [resolved?.id, resolved?.name, resolved?.severity, resolved?.resolvedEpoch, resolved?.resolution],
        [fired.id, 'predict-failure', 'critical', 9, 'score back under the exit threshold'],
      );
      assert.ok((resolved?.resolvedAt ?? 0) >= fired.firedAt);
      assert.deepEqual(open, other);
      assert.throws(() => store.audit.resolveAlert(other.id + 1000, { epoch: 1, reason: 'r' }), AlertNotFoundError);
      assert.throws(
        () => store.audit.openAlert({ computationId: 'c-missing', vmId: 'p', name: 'n', severity: 's', epoch: 1, reason: 'r' }),
        ComputationNotFoundError,
      );
    });
  });

  test('predictions come back stored, with their ids, in the order given', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      assert.deepEqual(store.audit.appendPredictions([]), []);
      const predictions = [
        { computationId: id, vmId: 's1', epoch: 8, detector: 'cusum', score: 7.2, level: 'failure' },
        { computationId: id, vmId: 's1', epoch: 3, detector: 'ewma', score: 0.7, level: 'warning' },
      ] as const;
      const stored = store.audit.appendPredictions(predictions);
      assert.deepEqual(
        stored.map(({ id: _id, at: _at, ...p }) => p),
        predictions,
      );
      assert.ok((stored[1]?.id ?? 0) > (stored[0]?.id ?? Infinity));
      assert.deepEqual(store.audit.listPredictions(id), stored);
      assert.deepEqual(
        store.audit.listPredictions(id, { from: 5 }).map((p) => [p.epoch, p.detector, p.level]),
        [[8, 'cusum', 'failure']],
      );
      assert.throws(() => store.audit.appendPredictions([{ ...predictions[0], computationId: 'c-missing' }]), ComputationNotFoundError);
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

  test('stats count a verdict with the divergences, by its payload bytes', () => {
    withStore(subject.fresh(), (store) => {
      const { id } = store.computations.create({ name: 'x', image: 'x.wasm', config: null });
      store.difflog.appendEpoch(epochBatch(id, 1, [1]));
      const before = store.stats(id);
      const verdict = undecided(id, 2, 1);
      const { verdictId } = store.difflog.appendEpoch({ ...epochBatch(id, 2, [1]), verdict });
      const after = store.stats(id);
      // The second batch's divergences weigh what the first's did; the rest is the verdict's row:
      // four numbers (id, epoch, attempt, time) and its texts.
      const texts = [verdict.kind, JSON.stringify(verdict.blamed), JSON.stringify(verdict.majority), JSON.stringify(verdict.differing)];
      const verdictBytes = 4 * 8 + texts.reduce((sum, text) => sum + text.length, 0);
      assert.equal(after.divergenceBytes, 2 * before.divergenceBytes + verdictBytes);
      assert.ok(verdictId !== null);
      store.difflog.resolveVerdict(verdictId, { attempt: 2, kind: 'transient', blamed: [] });
      const resolution = JSON.stringify({ attempt: 2, kind: 'transient', blamed: [] }).length;
      assert.equal(store.stats(id).divergenceBytes, after.divergenceBytes + resolution);
      assert.equal(store.stats(id).divergences, 4);
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

  test('a schema 2 database upgrades to 3 with nothing lost', () => {
    const location = subject.fresh();
    const c = 'c-legacy00001';
    const lone = 'c-legacy00002';
    const epochId = (epoch: number) => `(SELECT id FROM epochs WHERE computation_id = '${c}' AND epoch = ${epoch})`;
    const row = (sql: string, ...params: SqlValue[]): SqlStatement => ({ sql, params });
    const computation = (id: string) =>
      row(
        `INSERT INTO computations (id, name, image, config, status, exit_code, report, created_at, updated_at)
         VALUES ($1, 'sum', 'sum.wasm', '{}', 'succeeded', 0, NULL, 1000, 9000)`,
        id,
      );
    const vm = (vmId: string, role: string, startedAt: number) =>
      row(
        `INSERT INTO vms (computation_id, vm_id, role, profile, status, end_state, started_at, ended_at)
         VALUES ($1, $2, $3, '{"name":"thread/v8","dimensions":{}}', 'ended', NULL, $4, NULL)`,
        c,
        vmId,
        role,
        startedAt,
      );
    const epoch = (computationId: string, n: number, verified: number, at: number) =>
      row('INSERT INTO epochs (computation_id, epoch, verified, at) VALUES ($1, $2, $3, $4)', computationId, n, verified, at);
    const divergence = (computationId: string, n: number, at: number) =>
      row(
        `INSERT INTO divergences (computation_id, epoch, vm_id, kind, summary, page_count, detail, at)
         VALUES ($1, $2, $3, 'pages', '1 page(s) differ (first: 7)', 1, '{}', $4)`,
        computationId,
        n,
        `${computationId}/shadow1`,
        at,
      );
    const intervention = (kind: string, reason: string, score: number | null, outcome: string | null, detail: string | null) =>
      row(
        `INSERT INTO interventions (computation_id, vm_id, epoch, kind, reason, score, outcome, detail, at)
         VALUES ($1, $2, 2, $3, $4, $5, $6, $7, 6500)`,
        c,
        `${c}/primary`,
        kind,
        reason,
        score,
        outcome,
        detail,
      );
    subject.legacy(location, 2, [
      computation(c),
      computation(lone),
      vm(`${c}/primary`, 'primary', 1000),
      vm(`${c}/shadow1`, 'shadow', 1000),
      // The primary's second generation, after a rollback.
      vm(`${c}/primary#2`, 'primary', 5000),
      epoch(c, 1, 0, 2000),
      epoch(c, 2, 1, 6000),
      epoch(lone, 1, 0, 2000),
      row(
        `INSERT INTO epoch_metrics (epoch_id, vm_id, instructions, run_ms, digest_ms, memory_bytes, syscalls, extra)
         VALUES (${epochId(1)}, $1, 1000, 1.5, 0.25, 65536, 3, '{"lagMs":2}')`,
        `${c}/primary`,
      ),
      divergence(c, 1, 2000),
      divergence(c, 2, 6000),
      divergence(lone, 1, 2000),
      row(
        `INSERT INTO page_deltas (divergence_id, page, delta)
         VALUES ((SELECT id FROM divergences WHERE computation_id = $1 AND epoch = 1), 7, $2)`,
        c,
        new Uint8Array([0, 1, 2]),
      ),
      intervention('rollback', 'rollback of the primary to its initial state', null, null, '{"checkpoint":null}'),
      intervention('alert', 'score 0.750 at or above warn', 0.75, 'queued: 1 sink', '{"level":"warn"}'),
      row(
        `INSERT INTO predictions (computation_id, vm_id, epoch, detector, score, level, at)
         VALUES ($1, $2, 2, 'cusum', 7.5, 'failure', 6400)`,
        c,
        `${c}/primary`,
      ),
    ]);

    withStore(location, (store) => {
      assert.equal(store.computations.get(c)?.status, 'succeeded');
      const epochs = store.difflog.readEpochs(c);
      assert.deepEqual(
        epochs.map((e) => [e.epoch, e.attempt, e.verified]),
        [
          [1, 1, false],
          [2, 1, true],
        ],
      );
      assert.deepEqual(epochs[0]?.metrics, {
        [`${c}/primary`]: { instructions: 1000, runMs: 1.5, digestMs: 0.25, memoryBytes: 65536, syscalls: 3, extra: { lagMs: 2 } },
      });

      // Each divergence was compared with the primary running when it was logged.
      const divergences = store.difflog.readDivergences(c).items;
      assert.deepEqual(
        divergences.map((d) => [d.epoch, d.attempt, d.vmId, d.peerVmId, d.kind, d.summary]),
        [
          [1, 1, `${c}/shadow1`, `${c}/primary`, 'pages', '1 page(s) differ (first: 7)'],
          [2, 1, `${c}/shadow1`, `${c}/primary#2`, 'pages', '1 page(s) differ (first: 7)'],
        ],
      );
      // With no primary on record the peer is unknown: the empty id, which names no VM.
      assert.deepEqual(
        store.difflog.readDivergences(lone).items.map((d) => d.peerVmId),
        [''],
      );
      const firstDivergence = divergences[0];
      assert.ok(firstDivergence);
      assert.deepEqual(
        store.difflog.readPageDeltas(firstDivergence.id).map((d) => [d.page, [...d.delta]]),
        [[7, [0, 1, 2]]],
      );

      // Interventions are events now; an action record's score and outcome join its message.
      const events = store.audit.listEvents(c);
      assert.deepEqual(
        events.map((e) => [e.kind, e.vmId, e.epoch, e.message, e.detail, e.at]),
        [
          ['rollback', `${c}/primary`, 2, 'rollback of the primary to its initial state', { checkpoint: null }, 6500],
          ['alert', `${c}/primary`, 2, 'score 0.750 at or above warn (score 0.75); queued: 1 sink', { level: 'warn' }, 6500],
        ],
      );
      const next = store.audit.appendEvent({ computationId: c, vmId: null, epoch: 3, kind: 'note', message: 'after', detail: null });
      assert.ok(events.every((e) => e.id < next.id));
      assert.deepEqual(
        store.audit.listPredictions(c).map((p) => [p.vmId, p.epoch, p.detector, p.score, p.level, p.at]),
        [[`${c}/primary`, 2, 'cusum', 7.5, 'failure', 6400]],
      );
      assert.deepEqual([store.audit.listActions(c), store.audit.listAlerts(c), store.difflog.readVerdicts(c)], [[], [], []]);

      // The upgraded log takes new records.
      const retry = epochBatch(c, 2, [7]);
      store.difflog.appendEpoch({ ...retry, record: { ...retry.record, attempt: 2 }, verdict: undecided(c, 2, 2) });
      assert.deepEqual(
        store.difflog.readEpochs(c).map((e) => [e.epoch, e.attempt]),
        [
          [1, 1],
          [2, 1],
          [2, 2],
        ],
      );
      assert.equal(store.difflog.readVerdicts(c).length, 1);
    });
  });

  test('reopening keeps the data and applies no migration twice', () => {
    const location = subject.fresh();
    const id = withStore(location, (store) => store.computations.create({ name: 'x', image: 'x.wasm', config: null }).id);
    withStore(location, () => undefined);
    withStore(location, (store) => assert.equal(store.computations.get(id)?.name, 'x'));
  });
}
