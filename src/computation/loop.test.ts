// The loop on the fake driver (page size 1024): every recovery path in milliseconds, each test
// naming its expected outcome. "Exact output" means the bytes delivered are those the fake program
// prints when it runs alone on the inputs the primary recorded, read back from the store.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FakeDriver, registerFakeDriver } from '../drivers/fake/driver.js';
import { Program } from '../drivers/fake/program.js';
import type { FakeScriptInput } from '../drivers/fake/script.js';
import { parsePolicy } from '../policy/index.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { type ComputationConfig, DEFAULT_CONFIG } from './config.js';
import { launch } from './launch.js';
import type { ComputationReport } from './report.js';
import { SPEC_VERSION } from './spec.js';

registerFakeDriver();

const stores: Store[] = [];
after(() => {
  for (const store of stores) store.close();
});

interface Run {
  readonly report: ComputationReport;
  readonly stdout: string;
  readonly store: Store;
  readonly lines: readonly string[];
}

async function run(script: FakeScriptInput, config: Partial<ComputationConfig>, policyText?: string): Promise<Run> {
  const store = openStore(':memory:');
  stores.push(store);
  const chunks: Buffer[] = [];
  const lines: string[] = [];
  const report = await launch({
    spec: {
      version: SPEC_VERSION,
      driver: { kind: 'fake', script },
      config: { ...DEFAULT_CONFIG, checkpointEvery: 2, ...config },
    },
    store,
    sink: { write: (stream, bytes) => (stream === 'stdout' ? chunks.push(Buffer.from(bytes)) : undefined) },
    ...(policyText ? { policy: parsePolicy(policyText, 'test.yaml') } : {}),
    writeLine: (line) => lines.push(line),
  });
  return { report, stdout: Buffer.concat(chunks).toString(), store, lines };
}

/** What the fake program prints alone on the inputs the primary recorded. */
function expectedOutput(store: Store, computationId: string, script: FakeScriptInput): string {
  const parsed = new FakeDriver(script).script;
  const program = new Program(parsed.pageSize, parsed.pages);
  const inputs = store.inputs.read(computationId, 0, 100_000);
  let next = 0;
  let out = '';
  for (let epoch = 1; epoch <= parsed.epochs; epoch++) {
    const takes = parsed.inputEvery > 0 && epoch % parsed.inputEvery === 0;
    out += program.step(takes ? inputs[next++]?.payload : undefined);
  }
  assert.equal(next, inputs.length, 'every recorded input was consumed once');
  return out;
}

function assertExact(result: Run, script: FakeScriptInput): void {
  assert.equal(result.report.exitCode, 0, result.report.end);
  assert.equal(result.stdout, expectedOutput(result.store, result.report.computationId, script));
}

const id = (result: Run, name: string) => `${result.report.computationId}/${name}`;
const flip = (target: string, epoch: number) => ({ target, epoch, fault: { kind: 'bitflip' as const, address: 2000, bit: 3 } });

test('a fault in the primary before the first checkpoint, 1 shadow: no majority, both re-executed, they agree, exact output', async () => {
  const script = { epochs: 8 };
  const result = await run(script, { shadows: 1, checkpointEvery: 4, faults: [flip('primary', 2)] });
  assertExact(result, script);
  const [verdict] = result.report.verdicts;
  assert.equal(verdict?.epoch, 2);
  assert.equal(verdict?.kind, 'undecided');
  assert.deepEqual(verdict?.resolution, { attempt: 2, kind: 'transient', blamed: [] }, 'the retry agreed: the fault did not recur');
  assert.deepEqual(
    result.report.actions.filter((a) => a.kind !== 'alert').map((a) => [a.kind, a.actor]),
    [
      ['retry', 'vote'],
      ['refork', 'vote'],
    ],
  );
  assert.equal(result.report.divergences[0]?.peer, id(result, 'primary'));
});

test('a fault in the primary before the first checkpoint, 2 shadows: the primary is outvoted, rolled back, exact output', async () => {
  const script = { epochs: 8 };
  const result = await run(script, { shadows: 2, checkpointEvery: 4, faults: [flip('primary', 2)] });
  assertExact(result, script);
  assert.deepEqual(
    result.report.verdicts.map((v) => [v.epoch, v.kind, v.blamed]),
    [[2, 'primary-diverged', [id(result, 'primary')]]],
  );
  assert.deepEqual(
    result.report.rollbacks.map((a) => [a.epoch, a.vm, a.actor]),
    [[2, id(result, 'primary'), 'vote']],
  );
  assert.equal(result.report.reforks.length, 0, 'the shadows that agreed are kept');
});

test('a fault in a shadow: that shadow is re-forked, nothing is blamed on the primary, exact output', async () => {
  const script = { epochs: 8 };
  const result = await run(script, { shadows: 2, faults: [flip('shadow1', 3)] });
  assertExact(result, script);
  assert.deepEqual(
    result.report.verdicts.map((v) => [v.epoch, v.kind, v.blamed]),
    [[3, 'shadows-diverged', [id(result, 'shadow1')]]],
  );
  assert.deepEqual(result.report.rollbacks, []);
  assert.deepEqual(
    result.report.reforks.map((a) => [a.epoch, a.vm]),
    [[3, id(result, 'shadow1')]],
  );
  const predictions = result.store.audit.listPredictions(result.report.computationId);
  assert.ok(predictions.length > 0 && predictions.every((p) => p.vmId === id(result, 'shadow1')), JSON.stringify(predictions));
});

test('the primary and one of 2 shadows faulted in the same epoch: no majority, retried, exact output', async () => {
  const script = { epochs: 8 };
  const result = await run(script, {
    shadows: 2,
    faults: [flip('primary', 3), { target: 'shadow1', epoch: 3, fault: { kind: 'bitflip', address: 3000, bit: 1 } }],
  });
  assertExact(result, script);
  const [verdict] = result.report.verdicts;
  assert.equal(verdict?.kind, 'undecided');
  assert.deepEqual(verdict?.differing, [id(result, 'primary'), id(result, 'shadow1'), id(result, 'shadow2')], 'three states, no majority');
  assert.equal(verdict?.resolution?.kind, 'transient');
  assert.deepEqual(
    result.report.actions.filter((a) => a.kind !== 'alert').map((a) => a.kind),
    ['retry', 'refork', 'refork'],
  );
});

test('a fault during catch-up: the restored primary is lost while it catches up, restored again, exact output', async () => {
  const script = { epochs: 10, crashes: [{ replica: 'primary', generation: 2, epoch: 6 }] };
  const result = await run(script, { shadows: 2, checkpointEvery: 4, faults: [flip('primary', 7)] });
  assertExact(result, script);
  assert.deepEqual(
    result.report.rollbacks.map((a) => [a.epoch, a.actor]),
    [
      [7, 'vote'],
      [7, 'manager'],
    ],
  );
  assert.ok(
    result.report.replicas.some((r) => r.id === id(result, 'primary#3')),
    'a third incarnation of the primary ran',
  );
});

test('a shadow that dies mid-epoch is re-forked; the run goes on, exact output', async () => {
  const script = { epochs: 8, crashes: [{ replica: 'shadow2', epoch: 5 }] };
  const result = await run(script, { shadows: 2 });
  assertExact(result, script);
  assert.deepEqual(result.report.verdicts, [], 'a lost shadow is not a divergence');
  assert.deepEqual(
    result.report.reforks.map((a) => [a.epoch, a.vm, a.actor]),
    [[5, id(result, 'shadow2'), 'manager']],
  );
});

test('the primary that dies mid-epoch is recovered (rolled back), not an abort; exact output', async () => {
  const script = { epochs: 8, crashes: [{ replica: 'primary', epoch: 5 }] };
  const result = await run(script, { shadows: 2 });
  assertExact(result, script);
  assert.deepEqual(
    result.report.rollbacks.map((a) => [a.epoch, a.vm, a.actor]),
    [[5, id(result, 'primary'), 'manager']],
  );
});

test('what is recorded is true: the blamed primary is named, one row per action, every alert resolved', async () => {
  const script = { epochs: 8 };
  const result = await run(script, { shadows: 2, faults: [flip('primary', 3)] });
  assertExact(result, script);
  const primary = id(result, 'primary');
  const predictions = result.store.audit.listPredictions(result.report.computationId);
  assert.ok(predictions.length > 0, 'the divergence was predicted as a failure');
  assert.deepEqual([...new Set(predictions.map((p) => p.vmId))], [primary], 'predictions name the blamed replica only');
  const actions = result.store.audit.listActions(result.report.computationId);
  assert.deepEqual(
    actions.filter((a) => a.kind === 'rollback').map((a) => [a.vmId, a.actor, a.cause.kind, a.status]),
    [[primary, 'vote', 'verdict', 'applied']],
    'the rollback is one row, caused by the verdict',
  );
  const firing = actions.filter((a) => a.kind === 'alert' && a.reason.includes('enter threshold'));
  assert.ok(firing.length > 0 && firing.every((a) => a.vmId === primary && a.cause.kind === 'prediction'), JSON.stringify(firing));
  const alerts = result.store.audit.listAlerts(result.report.computationId);
  assert.ok(alerts.length > 0);
  assert.ok(
    alerts.every((a) => a.resolution !== null),
    `every fired alert says what resolved it: ${JSON.stringify(alerts)}`,
  );
  assert.ok(result.lines.some((line) => /alert firing predict-failure .*vm=c-[a-z0-9]+\/primary /.test(line)));
});

test('a shadow faulted: its critical alert is resolved when it is re-forked, and no action claims the primary rolled back', async () => {
  const script = { epochs: 8 };
  const result = await run(script, { shadows: 2, faults: [flip('shadow2', 3)] });
  assertExact(result, script);
  const actions = result.store.audit.listActions(result.report.computationId);
  assert.ok(!actions.some((a) => a.kind === 'rollback'), JSON.stringify(actions));
  const [alert] = result.store.audit.listAlerts(result.report.computationId).filter((a) => a.name === 'predict-failure');
  assert.equal(alert?.vmId, id(result, 'shadow2'));
  assert.match(alert?.resolution ?? '', /shadow2 was re-forked/);
});

test('an undecided epoch is logged as undecided, and settled once the retry decides who was at fault', async () => {
  // The primary takes a one-off flip at epoch 3 while shadow1's host flips a bit there in every
  // incarnation: three states, no majority; re-executed, the primary and shadow2 agree.
  const script = { epochs: 8, hostFaults: [{ replica: 'shadow1', epoch: 3, address: 3000, bit: 1 }] };
  const result = await run(script, { shadows: 2, faults: [flip('primary', 3)] });
  assertExact(result, script);
  const [first, second] = result.report.verdicts;
  assert.equal(first?.kind, 'undecided');
  assert.deepEqual(second && [second.epoch, second.attempt, second.kind, second.blamed], [
    3,
    2,
    'shadows-diverged',
    [id(result, 'shadow1#2')],
  ]);
  assert.deepEqual(first?.resolution, { attempt: 2, kind: 'blamed', blamed: [id(result, 'shadow1#2')] });
});

test('a driver without checkpoints restores from the initial state with the input log, exact output', async () => {
  const script = { epochs: 8, capabilities: ['pages', 'memory-limit', 'epoch-budget', 'bitflip', 'corrupt-input'] as const };
  const result = await run({ ...script, capabilities: [...script.capabilities] }, { shadows: 2, faults: [flip('primary', 5)] });
  assertExact(result, { ...script, capabilities: [...script.capabilities] });
  assert.deepEqual(result.report.checkpoints, []);
  assert.match(result.report.rollbacks[0]?.outcome ?? '', /its initial state/);
});

test('a configuration that needs a capability the driver lacks is refused before it starts, naming it', async () => {
  const store = openStore(':memory:');
  stores.push(store);
  await assert.rejects(
    launch({
      spec: {
        version: SPEC_VERSION,
        driver: { kind: 'fake', script: { capabilities: ['checkpoint', 'pages'] } },
        config: { ...DEFAULT_CONFIG, shadows: 1, faults: [flip('primary', 2)] },
      },
      store,
      sink: { write: () => {} },
    }),
    /the fake driver cannot inject bit flips, which the bitflip fault planned for primary at epoch 2 needs/,
  );
  assert.deepEqual(store.computations.list(), [], 'nothing was recorded for a computation that never started');
});
