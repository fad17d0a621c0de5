// What a run records is true, seen from outside as a user sees it: the replica the vote blamed is
// the one every alert and prediction names, one rollback is one action, an alert that fired is
// resolved, and a run never ends silently with exit 0 when the guest's output was lost.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import binaryen from 'binaryen';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const guest = (name: string) => fileURLToPath(new URL(`../../../guests/bin/${name}.wasm`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'shadowvm-records-'));
const store = join(dir, 'records.db');
after(() => rmSync(dir, { recursive: true, force: true }));

function shadowvm(args: string[]) {
  const result = spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, SHADOWVM_STORE: store },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Report {
  readonly computationId: string;
  readonly exitCode: number;
  readonly verdicts: readonly { epoch: number; kind: string; blamed: string[] }[];
  readonly actions: readonly { kind: string; vm: string | null; actor: string; status: string }[];
  readonly alerts: readonly { vm: string; name: string; resolution: string | null }[];
}

function report(path: string): Report {
  return JSON.parse(readFileSync(path, 'utf8')) as Report;
}

/**
 * The VM ids the failure-prediction alert lines of stderr name, by alert status. (Timing on a
 * loaded host may also raise a `warn` about any replica: those say nothing about blame.)
 */
function alertedVms(stderr: string, status: 'firing' | 'resolved'): string[] {
  return [...stderr.matchAll(new RegExp(`alert ${status} predict-failure .*?vm=(\\S+)`, 'g'))].map((m) => m[1] as string);
}

test('a bit flip in the primary: the vote, the alerts and the predictions name the primary, and one rollback is one action', () => {
  const path = join(dir, 'primary.json');
  const run = shadowvm([
    'run',
    guest('pipeline'),
    '--epoch-events',
    '300000',
    '--inject-bitflip',
    'primary@epoch=3',
    '--report',
    path,
    '--',
    '42',
    '100000',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const r = report(path);
  const primary = `${r.computationId}/primary`;
  assert.deepEqual(
    r.verdicts.map((v) => [v.epoch, v.kind, v.blamed]),
    [[3, 'primary-diverged', [primary]]],
  );
  const firing = alertedVms(run.stderr, 'firing');
  assert.ok(firing.length > 0, run.stderr);
  assert.deepEqual([...new Set(firing)], [primary], `alerts name the blamed primary, not the shadows that agreed:\n${run.stderr}`);
  const rollbacks = r.actions.filter((a) => a.kind === 'rollback');
  assert.deepEqual(
    rollbacks.map((a) => [a.vm, a.actor, a.status]),
    [[primary, 'vote', 'applied']],
  );
  const log = shadowvm(['log', r.computationId]);
  assert.equal(log.code, 0, log.stderr);
  assert.equal(log.stdout.match(/\brollback\b/g)?.length, 1, `one rollback, one line:\n${log.stdout}`);
  assert.doesNotMatch(log.stdout, /vote: vote:/);
});

test('a bit flip in a shadow: only that shadow is blamed, nothing claims the primary rolled back, and its alert is resolved', () => {
  const path = join(dir, 'shadow.json');
  const run = shadowvm([
    'run',
    guest('pipeline'),
    '--epoch-events',
    '300000',
    '--inject-bitflip',
    'shadow1@epoch=3',
    '--report',
    path,
    '--',
    '42',
    '100000',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const r = report(path);
  const shadow1 = `${r.computationId}/shadow1`;
  assert.deepEqual(
    r.verdicts.map((v) => [v.kind, v.blamed]),
    [['shadows-diverged', [shadow1]]],
  );
  assert.ok(!r.actions.some((a) => a.kind === 'rollback'), JSON.stringify(r.actions));
  assert.doesNotMatch(run.stderr, /the primary rolls back/);
  assert.deepEqual([...new Set(alertedVms(run.stderr, 'firing'))], [shadow1], run.stderr);
  assert.ok(alertedVms(run.stderr, 'resolved').includes(shadow1), `the alert about shadow1 is resolved:\n${run.stderr}`);
  assert.ok(
    r.alerts.every((a) => a.resolution !== null),
    JSON.stringify(r.alerts),
  );
});

/** A guest that grows its memory one wasm page at a time until refused, then says how far it got. */
function growGuest(): string {
  const wat = `(module
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 2)
    (data (i32.const 16) "grew until refused\\n")
    (func (export "_start") (local $i i32)
      (block $refused
        (loop $more
          (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 19))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
  const module = binaryen.parseText(wat);
  const path = join(dir, 'grow.wasm');
  writeFileSync(path, module.emitBinary());
  module.dispose();
  return path;
}

test('a guest that grows its memory to the limit ends as documented: its output, a summary, a report, a final row', () => {
  const path = join(dir, 'grow.json');
  const run = shadowvm(['run', growGuest(), '--memory', '64M', '--shadows', '1', '--report', path]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'grew until refused\n');
  assert.match(run.stderr, /computation c-\S+ ended: exit 0/);
  const r = report(path);
  assert.equal(r.exitCode, 0);
  const list = shadowvm(['list', '--json']);
  const rows = JSON.parse(list.stdout) as { id: string; status: string }[];
  assert.equal(rows.find((row) => row.id === r.computationId)?.status, 'succeeded');
  assert.ok(!rows.some((row) => row.status === 'running'), `no row left running: ${list.stdout}`);
});
