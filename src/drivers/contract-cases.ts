// The cases of the driver contract (the promises in types.ts' header), each judging what one
// driver did. Most judge the shared primary+shadow run (contract-scenario.ts) and add at most one
// VM of their own to its driver; the cases that end VMs on purpose (requests settle, kill) open
// a driver of their own. A capability the driver lacks is never a reason to pass quietly: the
// case then asserts the CapabilityMissingError instead.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { diffPageHashes } from '../pages/diff.js';
import { CapabilityMissingError } from './capabilities.js';
import type { ContractRun } from './contract-run.js';
import type { Scenario } from './contract-scenario.js';
import { attempt, inputLog, leaveInFlight, type Outcome, type Replica } from './contract-session.js';
import { CHECKPOINT_EPOCH, EPOCHS_AFTER_CHECKPOINT } from './contract-subject.js';
import { describeEvent, type Transcript } from './contract-transcript.js';
import { sameState } from './state.js';
import type { Capability, Driver, EpochReport, Fault, RestoreTarget, SnapshotDelta, StateDigest } from './types.js';
import { describeEnd } from './vm-end.js';

export const CONTRACT_CASES = [
  'lifecycle',
  'epochs',
  'digests',
  'input feed',
  'pages',
  'faults',
  'resources',
  'snapshot/restore',
  'restore refuses a wrong state',
  'restore from the log',
  'requests settle',
  'ends',
  'kill',
] as const;
export type ContractCaseName = (typeof CONTRACT_CASES)[number];

export interface ContractCase {
  readonly name: ContractCaseName;
  check(run: ContractRun): Promise<void>;
}

const K = CHECKPOINT_EPOCH;
const FLIPPED_BIT = 3;

const cases: Readonly<Record<ContractCaseName, (run: ContractRun) => Promise<void>>> = {
  /** start runs a VM to the end of epoch 1, where it pauses and says nothing until resumed. */
  async lifecycle(run) {
    const s = await run.scenario();
    for (const replica of pair(s)) {
      const { log } = replica;
      assert.equal(log.reports[0]?.epoch, 1, `the first report of ${log.id} is not of epoch 1`);
      const early = (s.whilePaused.get(replica) ?? []).map(describeEvent);
      assert.deepEqual(early, [], `${log.id} went on at the end of epoch 1 before it was resumed`);
      assert.equal(log.reports[1]?.epoch, 2, `${log.id} did not run epoch 2 once resumed`);
    }
  },

  /** One report per epoch, in order, and none after the one that carries the end. */
  async epochs(run) {
    for (const { log } of pair(await run.scenario())) {
      const epochs = log.reports.map((report) => report.epoch);
      assert.deepEqual(epochs, consecutive(1, epochs.length), `${log.id} reported epochs ${epochs.join(' ')}`);
      const ending = log.reports.findIndex((report) => report.end !== undefined);
      if (ending >= 0) assert.equal(ending, epochs.length - 1, `${log.id} reported epochs after the one carrying its end`);
    }
  },

  /**
   * Digests are well formed, and two replicas fed the same inputs report the same state at every
   * epoch (drift: the same shape, at every epoch both reached).
   */
  async digests(run) {
    const s = await run.scenario();
    const pageSize = s.primary.log.reports[0]?.digest.pageSize;
    for (const { log } of pair(s)) {
      for (const { epoch, digest } of log.reports) {
        const where = `${log.id}, epoch ${epoch}`;
        assert.ok(Number.isInteger(digest.pageSize) && digest.pageSize > 0, `${where}: page size ${digest.pageSize}`);
        assert.equal(digest.pageSize, pageSize, `${where}: the page size changed`);
        assert.ok(
          digest.pageHashes.length > 0 && digest.pageHashes.length % 16 === 0,
          `${where}: ${digest.pageHashes.length} bytes of page digests`,
        );
      }
    }
    if (s.session.driver.agreement === 'exact')
      assert.equal(s.shadow.log.reports.length, s.primary.log.reports.length, 'the shadow reported another number of epochs');
    for (const original of comparedReports(s)) assertAgree(s.session.driver, original, s.shadow.log.report(original.epoch), 'the shadow');
  },

  /** The primary's records have consecutive seqs from 0, each in its epoch; a shadow fed them reaches the primary's state. */
  async 'input feed'(run) {
    const s = await run.scenario();
    const records = s.primary.log.inputs;
    assert.deepEqual(
      records.map((record) => record.seq),
      consecutive(0, records.length),
      'the primary recorded seqs that do not count up from 0',
    );
    const takesInputs = run.subject.guest.takesInputs;
    assert.equal(
      records.length > 0,
      takesInputs,
      takesInputs ? 'the primary recorded no input' : 'the primary recorded inputs, though its guest takes none',
    );
    let reportAfter: number | undefined;
    for (const event of [...s.primary.log.events].reverse()) {
      if (event.kind === 'epoch') reportAfter = event.report.epoch;
      if (event.kind === 'input')
        assert.equal(
          reportAfter,
          event.record.epoch,
          `input ${event.record.seq} says epoch ${event.record.epoch}, but the next report is ${reportAfter === undefined ? 'none' : `of epoch ${reportAfter}`}`,
        );
    }
    const mismatches = s.shadow.log.events.filter((event) => event.kind === 'mismatch').map(describeEvent);
    assert.deepEqual(mismatches, [], 'the shadow asked for inputs it was not fed');
    const last = comparedReports(s).at(-1);
    assert.ok(last, 'the primary reported no epoch the shadow reached');
    assertAgree(s.session.driver, last, s.shadow.log.report(last.epoch), 'the shadow at the last epoch compared');
  },

  /** readPages at a barrier gives pageSize bytes per page: the pages a snapshot there holds. */
  async pages(run) {
    const s = await run.scenario();
    if (!has(s.session.driver, 'pages')) return assertMissing(s.pages, 'pages', 'readPages');
    const pages = valueFrom(s.pages, `readPages at the end of epoch ${K}`);
    const pageSize = reportOf(s.primary, K).digest.pageSize;
    assert.equal(pages.length, s.pagesAsked.length, `readPages of ${s.pagesAsked.length} pages gave ${pages.length}`);
    s.pagesAsked.forEach((page, i) => {
      assert.equal(pages[i]?.length, pageSize, `page ${page} has ${pages[i]?.length} bytes, not the digest's page size ${pageSize}`);
      const held = s.snapshot.ok ? s.snapshot.value.changed.get(page) : undefined;
      if (held)
        assert.ok(Buffer.compare(pages[i] as Uint8Array, held) === 0, `page ${page} differs from the snapshot taken at the same barrier`);
    });
  },

  /** A bit flipped in one replica makes exactly its page differ at the next epoch, and readPages shows that bit. */
  async faults(run) {
    const s = await run.scenario();
    const { driver } = s.session;
    const { epochMs } = run.subject.timing;
    const address = run.subject.guest.bitflipAddress;
    const flip: Fault = { kind: 'bitflip', address, bit: FLIPPED_BIT };
    // Inputs from the log, not the feed: this case must not depend on the input feed case.
    const restore = { target: null, log: inputLog(s.primary.log.inputs), catchUpTo: 0 };
    await s.session.withReplica('faulted', 'shadow', { restore }, async (faulted) => {
      await startAndReach(faulted, 1, epochMs);
      const missing: readonly [Capability, Fault][] = [
        ['bitflip', flip],
        ['corrupt-input', { kind: 'corrupt-input', seq: 0 }],
      ];
      for (const [capability, fault] of missing.filter(([capability]) => !has(driver, capability)))
        assertMissing(await attempt(() => faulted.vm.inject(fault), epochMs, 'inject'), capability, `inject of a ${fault.kind} fault`);
      if (!has(driver, 'bitflip')) return;
      valueFrom(await attempt(() => faulted.vm.inject(flip), epochMs, 'inject'), 'inject of a bit flip');
      faulted.vm.resume();
      await reach(faulted, 2, epochMs);
      const original = reportOf(s.primary, 2).digest;
      const page = Math.floor(address / original.pageSize);
      const differing = diffPageHashes(original.pageHashes, reportOf(faulted, 2).digest.pageHashes);
      if (driver.agreement === 'exact')
        assert.deepEqual(differing, [page], `a flip at ${address} (page ${page}) made pages [${differing.join(' ')}] differ`);
      else assert.ok(differing.includes(page), `a flip at ${address} left its page ${page} as it was`);
      const read = await attempt(() => faulted.vm.readPages([page]), epochMs, 'readPages');
      if (!has(driver, 'pages')) return assertMissing(read, 'pages', 'readPages');
      const flippedPage = valueFrom(read, 'readPages of the flipped page')[0] as Uint8Array;
      const originalPage = valueFrom(s.pages, 'the primary’s readPages')[s.pagesAsked.indexOf(page)] as Uint8Array;
      assert.deepEqual(
        xorBytes(originalPage, flippedPage),
        [{ offset: address % original.pageSize, xor: 1 << FLIPPED_BIT }],
        'readPages shows another change than the flip',
      );
    });
  },

  /** adjust of a limit the driver declares returns it; one it lacks is a CapabilityMissingError. */
  async resources(run) {
    const s = await run.scenario();
    for (const { key, capability, value, outcome, after } of s.adjustments) {
      if (!has(s.session.driver, capability)) {
        assertMissing(outcome, capability, `adjust of ${key}`);
        continue;
      }
      assert.equal(valueFrom(outcome, `adjust of ${key}`)[key], value, `adjust of ${key} to ${value} returned another value`);
      assert.equal(after[key], value, `limits() after an adjust of ${key} to ${value}`);
    }
  },

  /** A snapshot at a barrier restores: the VM says onRestored, then reports the original's states. */
  async 'snapshot/restore'(run) {
    const s = await run.scenario();
    if (!has(s.session.driver, 'checkpoint')) return assertMissing(s.snapshot, 'checkpoint', 'snapshot');
    const { epochMs } = run.subject.timing;
    const delta = valueFrom(s.snapshot, `snapshot at the end of epoch ${K}`);
    const original = reportOf(s.primary, K).digest;
    assert.equal(delta.epoch, K, `a snapshot at the end of epoch ${K} says epoch ${delta.epoch}`);
    assert.equal(delta.pageSize, original.pageSize, 'the snapshot’s page size is not the digest’s');
    assert.equal(delta.pageCount, original.pageHashes.length / 16, 'the snapshot’s page count is not the digest’s');
    assert.equal(delta.changed.size, delta.pageCount, 'a snapshot without a base does not hold every page');
    const restore = { target: restoreTarget(delta, original), log: inputLog(s.primary.log.inputs), catchUpTo: K };
    await s.session.withReplica('restored', 'shadow', { restore }, async (restored) => {
      await startAndReach(restored, K + 1, epochMs * (K + 1));
      for (let epoch = K + 2; epoch <= K + EPOCHS_AFTER_CHECKPOINT; epoch++) {
        restored.vm.resume();
        await reach(restored, epoch, epochMs);
      }
      assert.deepEqual(restored.log.restoredAt, [K], `onRestored came for epochs [${restored.log.restoredAt.join(', ')}]`);
      const saidSo = restored.log.events.findIndex((event) => event.kind === 'restored');
      const ranOn = restored.log.events.findIndex((event) => event.kind === 'epoch' && event.report.epoch > K);
      assert.ok(saidSo < ranOn, `onRestored came after the report of epoch ${K + 1}`);
      for (let epoch = K + 1; epoch <= K + EPOCHS_AFTER_CHECKPOINT; epoch++)
        assertAgree(s.session.driver, reportOf(s.primary, epoch), restored.log.report(epoch), 'the restored VM');
    });
  },

  /** A VM restored to a target whose digest is not the state it reaches ends instead of running on. */
  async 'restore refuses a wrong state'(run) {
    const s = await run.scenario();
    if (!has(s.session.driver, 'checkpoint')) return assertMissing(s.snapshot, 'checkpoint', 'snapshot');
    const { epochMs, quietMs } = run.subject.timing;
    const delta = valueFrom(s.snapshot, `snapshot at the end of epoch ${K}`);
    const original = reportOf(s.primary, K).digest;
    const pageHashes = Uint8Array.from(original.pageHashes);
    pageHashes[0] = (pageHashes[0] ?? 0) ^ 0xff;
    const restore = { target: restoreTarget(delta, { ...original, pageHashes }), log: inputLog(s.primary.log.inputs), catchUpTo: K };
    await s.session.withReplica('misrestored', 'shadow', { restore }, async (wrong) => {
      // It may refuse in start() as well; what counts is that it ends.
      await attempt(() => wrong.vm.start(), epochMs, 'start');
      const { log } = wrong;
      await log.until(() => log.gone !== undefined || log.restoredAt.length > 0 || log.lastEpoch >= K, epochMs * (K + 1));
      await sleep(quietMs);
      assert.deepEqual(log.restoredAt, [], 'onRestored came for a state the VM did not reach');
      assert.ok(log.lastEpoch < K, `it reported epoch ${log.lastEpoch}, at or past its wrong target`);
      assert.equal(log.gone?.kind, 'error', `it did not end with an error: ${log.describe()}`);
      assertGoneLast(log);
    });
  },

  /** A primary restored from the initial state with the log catches up without pausing, agrees, and continues the seqs. */
  async 'restore from the log'(run) {
    const s = await run.scenario();
    const { epochMs } = run.subject.timing;
    const recorded = s.recordedBy.get(K) ?? 0;
    const logged = s.primary.log.inputs.filter((record) => record.seq < recorded);
    const restore = { target: null, log: inputLog(logged), catchUpTo: K };
    await s.session.withReplica('replayed', 'primary', { restore }, async (replayed) => {
      // Never resumed: it must run through the epochs it catches up on by itself.
      await startAndReach(replayed, K + 1, epochMs * (K + 1));
      assert.deepEqual(replayed.log.restoredAt, [], 'onRestored came for a restore without a target');
      for (let epoch = 1; epoch <= K; epoch++)
        assertAgree(s.session.driver, reportOf(s.primary, epoch), replayed.log.report(epoch), 'the replayed VM');
      const seqs = replayed.log.inputs.map((record) => record.seq);
      assert.deepEqual(
        seqs,
        consecutive(logged.length, seqs.length),
        `after a log of ${logged.length} records it recorded seqs ${seqs.join(' ')}`,
      );
    });
  },

  /** A request pending when its VM ends or is killed still settles. */
  async 'requests settle'(run) {
    const s = await run.scenario();
    const outlived = s.inFlight.filter((request) => !request.settled).map((request) => request.what);
    assert.deepEqual(outlived, [], 'requests outlived their VM');
    const { epochMs } = run.subject.timing;
    await run.alone(async (session) => {
      const vm = await session.replica('primary', 'primary');
      await startAndReach(vm, 1, epochMs);
      const pending = [
        leaveInFlight('readPages', () => vm.vm.readPages([0])),
        leaveInFlight('snapshot', () => vm.vm.snapshot()),
        leaveInFlight('adjust', () => vm.vm.adjust({})),
        leaveInFlight('inject', () => vm.vm.inject({ kind: 'bitflip', address: run.subject.guest.bitflipAddress, bit: FLIPPED_BIT })),
      ];
      valueFrom(await attempt(() => vm.vm.kill('contract: requests pending'), epochMs, 'kill'), 'kill');
      await sleep(0);
      const unsettled = pending.filter((request) => !request.settled).map((request) => request.what);
      assert.deepEqual(unsettled, [], 'requests pending at a kill outlived the VM');
    });
  },

  /** The guest's end comes in its last report, then onGone once, as the last event. */
  async ends(run) {
    const s = await run.scenario();
    const expected = run.subject.guest.end;
    for (const { log } of pair(s)) {
      const last = log.reports.at(-1);
      assert.deepEqual(last?.end, expected, `the last report of ${log.id} says ${describeEnd(last?.end)}, not ${describeEnd(expected)}`);
      assert.equal(log.ends.length, 1, `onGone came ${log.ends.length} times to ${log.id}`);
      assertGoneLast(log);
      assert.deepEqual(log.gone, expected, `onGone of ${log.id} says ${describeEnd(log.gone)}`);
    }
  },

  /**
   * kill is idempotent: later kills (and the driver's close) resolve without a second onGone;
   * nothing comes after it. The driver's close ends the VMs still running, as a kill would.
   */
  async kill(run) {
    const { epochMs, quietMs } = run.subject.timing;
    await run.alone(async (session) => {
      const killed = await session.replica('killed', 'primary');
      const bystander = await session.replica('bystander', 'shadow');
      killed.log.forwardInputs(bystander.vm);
      // Started together, as the loop starts a primary and its shadows.
      await Promise.all([killed, bystander].map((replica) => startAndReach(replica, 1, epochMs)));
      // Killed while it runs, where a late report is likeliest.
      killed.vm.resume();
      const twice = await Promise.all(['first', 'second'].map((which) => attempt(() => killed.vm.kill(which), epochMs, `${which} kill`)));
      const third = await attempt(() => killed.vm.kill('third'), epochMs, 'third kill');
      for (const [i, outcome] of [...twice, third].entries()) valueFrom(outcome, `kill number ${i + 1}`);
      await sleep(quietMs);
      valueFrom(await attempt(() => session.closeDriver(), epochMs, 'close'), 'the driver’s close after the kill');
      await sleep(quietMs);
      const { log } = killed;
      assert.equal(log.ends.length, 1, `onGone came ${log.ends.length} times`);
      assert.equal(log.gone?.kind, 'killed', `a killed VM ended ${describeEnd(log.gone)}`);
      assertGoneLast(log);
      const { ends, gone } = bystander.log;
      assert.equal(ends.length, 1, `the driver’s close did not end ${bystander.log.describe()}: onGone came ${ends.length} times`);
      assert.equal(gone?.kind, 'killed', `the driver’s close ended a running VM ${describeEnd(gone)}`);
      assertGoneLast(bystander.log);
    });
  },
};

export const CONTRACT: readonly ContractCase[] = CONTRACT_CASES.map((name) => ({ name, check: cases[name] }));

// ---- helpers --------------------------------------------------------------------------------------

function pair(s: Scenario): readonly Replica[] {
  return [s.primary, s.shadow];
}

/**
 * The primary's reports its shadow is compared on: every one (exact: the shadow must report each
 * epoch too), or those of the epochs the shadow reached as well (drift: replicas run at their own
 * pace and may end at other epochs).
 */
function comparedReports(s: Scenario): EpochReport[] {
  const reports = s.primary.log.reports;
  return s.session.driver.agreement === 'exact' ? reports : reports.filter((report) => s.shadow.log.report(report.epoch) !== undefined);
}

function has(driver: Driver, capability: Capability): boolean {
  return driver.capabilities.has(capability);
}

function consecutive(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

function valueFrom<T>(outcome: Outcome<T>, what: string): T {
  if (outcome.ok) return outcome.value;
  assert.fail(`${what} failed: ${describeError(outcome.error)}`);
}

function assertMissing(outcome: Outcome<unknown>, capability: Capability, what: string): void {
  assert.ok(!outcome.ok, `${what} succeeded, though the driver does not declare ${capability}`);
  const typed = outcome.error instanceof CapabilityMissingError && outcome.error.capability === capability;
  assert.ok(typed, `${what} failed with ${describeError(outcome.error)}, not a CapabilityMissingError for ${capability}`);
}

function assertGoneLast(log: Transcript): void {
  const last = log.events.at(-1);
  assert.equal(last?.kind, 'gone', `the last event of ${log.id} is ${last ? describeEvent(last) : 'none'}, not onGone`);
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function startAndReach(replica: Replica, epoch: number, ms: number): Promise<void> {
  valueFrom(await attempt(() => replica.vm.start(), ms, 'start'), `start of ${replica.log.id}`);
  await reach(replica, epoch, ms);
}

async function reach(replica: Replica, epoch: number, ms: number): Promise<void> {
  const { log } = replica;
  if (!(await log.until(() => log.lastEpoch >= epoch, ms))) assert.fail(`no report of epoch ${epoch} within ${ms} ms: ${log.describe()}`);
}

function reportOf(replica: Replica, epoch: number): EpochReport {
  const report = replica.log.report(epoch);
  if (!report) assert.fail(`${replica.log.id} reported no epoch ${epoch}`);
  return report;
}

/** Exact drivers' replicas agree on the whole state; drifting ones only on its shape (page size and count). */
function assertAgree(driver: Driver, original: EpochReport, other: EpochReport | undefined, who: string): void {
  if (!other) assert.fail(`${who} reported no epoch ${original.epoch}`);
  if (driver.agreement === 'drift') {
    const where = `${who}, epoch ${original.epoch}`;
    assert.equal(other.digest.pageSize, original.digest.pageSize, `${where}: another page size`);
    assert.equal(other.digest.pageHashes.length, original.digest.pageHashes.length, `${where}: another number of pages`);
    return;
  }
  assert.ok(
    sameState(original.digest, other.digest),
    `${who}, epoch ${original.epoch}: ${describeDifference(original.digest, other.digest)}`,
  );
}

function describeDifference(a: StateDigest, b: StateDigest): string {
  if (a.pageSize !== b.pageSize) return `page size ${b.pageSize}, not ${a.pageSize}`;
  const pages = diffPageHashes(a.pageHashes, b.pageHashes);
  const keys = (x: Readonly<Record<string, string>>, y: Readonly<Record<string, string>>) =>
    [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((key) => x[key] !== y[key]);
  const parts = [
    pages.length > 0 ? `pages ${pages.slice(0, 8).join(' ')}${pages.length > 8 ? ' …' : ''} differ` : '',
    keys(a.registers, b.registers)
      .map((key) => `register ${key}`)
      .join(', '),
    keys(a.outputs, b.outputs)
      .map((key) => `output ${key}`)
      .join(', '),
  ];
  return `state differs from the original's: ${parts.filter((part) => part !== '').join('; ')}`;
}

function restoreTarget(delta: SnapshotDelta, digest: StateDigest): RestoreTarget {
  return {
    epoch: delta.epoch,
    digest,
    driverState: delta.driverState,
    readPage(page) {
      const bytes = delta.changed.get(page);
      if (!bytes) throw new RangeError(`the snapshot holds no page ${page}`);
      return bytes;
    },
  };
}

/** Where two pages differ: each differing byte's offset and the XOR of the two bytes. */
function xorBytes(a: Uint8Array, b: Uint8Array): { offset: number; xor: number }[] {
  const out: { offset: number; xor: number }[] = [];
  for (let offset = 0; offset < Math.max(a.length, b.length); offset++) {
    const xor = (a[offset] ?? 0) ^ (b[offset] ?? 0);
    if (xor !== 0) out.push({ offset, xor });
  }
  return out;
}
