// Free-running (COLO-style) shadowing on real TCG guests: the shadow is a clone of the primary,
// HTTP requests to the primary are mirrored to it, and their replies are paired. The score
// of the real analysis engine (configured as the manager does for a drift driver) stays under the
// policy's warn level while the pair is healthy, and crosses predict-failure after a corrupted
// mirrored request, and (separate pair, fresh models) after a bit flip in the page cache page the
// primary serves /data from.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { AnalysisEngine } from '../../analysis/engine.js';
import { predictionScore } from '../../computation/predictor.js';
import { skipWithout } from '../../host-tools.js';
import { BUILT_IN_VM_POLICY } from '../../policy/defaults.js';
import type { EpochReport } from '../types.js';
import { FreeDriver } from './free-driver.js';
import { findInRam, stepUntilServing, stepWithTraffic } from './free-harness.js';
import { ensureGuest } from './guest-build.js';
import { createReplica, differingPages, type Replica } from './harness.js';
import { qemuProcessesUnder } from './leaks.js';
import { liveQemuCount } from './process.js';
import { RamFile } from './ram.js';

const level = (name: string) => BUILT_IN_VM_POLICY.levels.find((l) => l.name === name)?.enter ?? Number.NaN;
const warn = level('warn');
const predictFailure = level('predict-failure');
/** The first line of /www/data and the lines after it: together they occur only in its page. */
const dataMarker = 'SHADOWVM-DATA-PAGE\n001\n002\n';

interface FreePair {
  readonly driver: FreeDriver;
  readonly primary: Replica;
  readonly shadow: Replica;
  readonly port: number;
  /** Runs one epoch while GETting `paths`; returns the shadow's score and the GETs. */
  epoch(paths: readonly string[]): Promise<{ score: number; reports: EpochReport[]; served: number }>;
}

/** A primary and its clone, serving; `body` runs against them, then everything is cleaned up. */
async function withFreePair(body: (pair: FreePair) => Promise<void>): Promise<void> {
  await ensureGuest();
  const driver = new FreeDriver({ epochMs: 600 });
  // The engine as the manager configures it for a drift driver: free-running replicas differ in
  // thousands of pages every epoch, so page and reply differences are learned series.
  const engine = new AnalysisEngine({ agreement: driver.agreement });
  const score = ([p, s]: EpochReport[]): number => {
    const [result] = engine.observe({
      computation: 'free',
      epoch: s!.epoch,
      vms: [],
      pairs: [
        {
          primary: 'p',
          shadow: 's',
          epoch: s!.epoch,
          differingPages: differingPages(p!, s!).length,
          diffBytes: 0,
          outputMismatches: s!.pairedOutputs?.differing ?? 0,
          syscallMismatches: 0,
          shadowLagMs: 0,
        },
      ],
    });
    return predictionScore(result?.byFeature ?? {});
  };
  try {
    const profile = driver.profiles()[0]!;
    const primary = await createReplica(driver, 'p', 'primary', profile);
    const shadow = await createReplica(driver, 's', 'shadow', profile);
    const replicas = [primary, shadow];
    const firsts = replicas.map((r) => r.next());
    await Promise.all(replicas.map((r) => r.vm.start()));
    const [p1, s1] = await Promise.all(firsts);
    assert.equal(s1!.epoch, 1, 'the shadow starts at the primary epoch barrier');
    assert.deepEqual(differingPages(p1!, s1!), [], 'a clone has the primary RAM page for page');
    const port = await driver.httpPort();
    await stepUntilServing(replicas, port, '/data', 30);
    await body({
      driver,
      primary,
      shadow,
      port,
      epoch: async (paths) => {
        const { reports, results } = await stepWithTraffic(replicas, port, paths);
        return { score: score(reports), reports, served: results.filter((r) => r.status === 200).length };
      },
    });
  } finally {
    await driver.close();
  }
  assert.equal(liveQemuCount(), 0);
  assert.equal(existsSync(driver.runtimePath), false);
  assert.deepEqual(qemuProcessesUnder(driver.runtimePath), []);
}

/** Epochs of /data traffic that must all score under warn. */
async function healthy(pair: FreePair, epochs: number): Promise<void> {
  let compared = 0;
  let served = 0;
  for (let i = 0; i < epochs; i++) {
    const { score, reports, served: ok } = await pair.epoch(['/data', '/data', '/data']);
    served += ok;
    compared += reports[1]!.pairedOutputs?.compared ?? 0;
    const paired = JSON.stringify(reports[1]!.pairedOutputs);
    assert.ok(score < warn, `healthy epoch ${reports[0]!.epoch}: score ${score} ≥ warn ${warn} (paired replies ${paired})`);
  }
  assert.ok(served >= epochs, `the primary served /data (${served} of ${3 * epochs})`);
  assert.ok(compared >= epochs, `replies to mirrored /data requests were paired (${compared})`);
}

async function crossesWithin(pair: FreePair, epochs: number, what: string): Promise<void> {
  const scores: number[] = [];
  for (let i = 0; i < epochs; i++) {
    scores.push((await pair.epoch(['/data'])).score);
    if (scores.at(-1)! >= predictFailure) return;
  }
  assert.fail(`${what}: scores ${scores.join(', ')} never reached predict-failure ${predictFailure}`);
}

test('free-running: healthy drift stays under warn, a corrupted mirrored request crosses predict-failure', {
  timeout: 180_000,
  skip: skipWithout('qemu'),
}, async () => {
  await withFreePair(async (pair) => {
    await healthy(pair, 8);
    // "GET /data" reaches the shadow as "GET /eata": it answers 404 where the primary answers 200.
    await pair.shadow.vm.inject({ kind: 'corrupt-input', seq: 0 });
    await crossesWithin(pair, 3, 'corrupted mirrored input');
  });
});

test('free-running: a bit flip in the primary page cache of /data crosses predict-failure', {
  timeout: 180_000,
  skip: skipWithout('qemu'),
}, async () => {
  await withFreePair(async (pair) => {
    await healthy(pair, 5);
    const hits = findInRam(new RamFile(`${pair.driver.runtimePath}/p.ram`).readAll(), dataMarker);
    assert.ok(hits.length > 0, 'the /www/data page is in the primary RAM');
    for (const address of hits) await pair.primary.vm.inject({ kind: 'bitflip', address, bit: 5 });
    await crossesWithin(pair, 3, 'bit flip in the primary page cache');

    // /result changes every workload round and replicas run at their own pace: its replies are
    // paired too (and usually differ, which is why a score must not rest on such pages).
    let served = false;
    let compared = 0;
    for (let i = 0; i < 8 && (!served || compared === 0); i++) {
      const { reports, served: ok } = await pair.epoch(served ? [] : ['/result']);
      served ||= ok > 0;
      if (served) compared += reports[1]!.pairedOutputs?.compared ?? 0;
    }
    assert.ok(served, 'the primary serves /result');
    assert.ok(compared >= 1, 'replies to mirrored requests (here /result) are still paired');
  });
});
