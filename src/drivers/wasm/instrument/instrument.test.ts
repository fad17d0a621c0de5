import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import binaryen from 'binaryen';
import { skipWithout } from '../../../host-tools.js';
import { BUDGET_EXPORT, GROW_IMPORT, IMPORT_MODULE } from './abi.js';
import { InvalidWasmError, Memory64Error, NoMemoryError, NoStartError, NotWasmError, UnsupportedWasmError } from './errors.js';
import { type InstrumentedModule, instrumentModule } from './instrument.js';
import { compileC, type GuestRun, runGuest } from './testing.js';

const GUEST = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned sieve_hash(unsigned n) {
  char *composite = calloc(n + 1, 1);
  unsigned h = 0;
  for (unsigned i = 2; i <= n; i++) {
    if (composite[i]) continue;
    h = h * 31 + i;
    for (unsigned long long j = (unsigned long long)i * i; j <= n; j += i) composite[j] = 1;
  }
  free(composite);
  return h;
}

/* Loop-free: the non-commutative combination keeps clang from turning a call into a loop. */
__attribute__((noinline)) unsigned rec(unsigned n) {
  if (n < 2) return n;
  return (rec(n - 1) << 1) - rec(n - 2) + (n & 3);
}

/* The same recursion through a function pointer: its address is taken. */
typedef unsigned (*fn)(unsigned);
static fn volatile through;
__attribute__((noinline)) unsigned rec_indirect(unsigned n) {
  if (n < 2) return n;
  return (through(n - 1) << 1) - through(n - 2) + (n & 3);
}

static char *volatile sink;

static int compare(const void *a, const void *b) {
  unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
  return (x > y) - (x < y);
}

/* Mutual recursion: a cycle of two functions. */
__attribute__((noinline)) int is_odd(unsigned n);
__attribute__((noinline)) int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
__attribute__((noinline)) int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

/* Sorting through a comparator pointer, a mutual recursion and float formatting. */
static void mixed(unsigned n) {
  unsigned *v = malloc(n * sizeof *v), s = n, evens = 0;
  for (unsigned i = 0; i < n; i++) v[i] = s = s * 1103515245u + 12345u;
  qsort(v, n, sizeof *v, compare);
  for (unsigned i = 0; i < n; i += 97) evens += is_even(v[i] % 5000);
  printf("mixed %u %u %.3f\n", v[n / 2], evens, v[0] / 3.0);
  free(v);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
  if (!strcmp(mode, "loops")) printf("loops %u\n", sieve_hash(n));
  else if (!strcmp(mode, "recurse")) printf("recurse %u\n", rec(n));
  else if (!strcmp(mode, "indirect")) { through = rec_indirect; printf("indirect %u\n", through(n)); }
  else if (!strcmp(mode, "mixed")) mixed(n);
  else if (!strcmp(mode, "spin")) { volatile unsigned x = 0; for (;;) x++; }
  else if (!strcmp(mode, "alloc")) {
    unsigned mb = 0;
    while ((sink = malloc(1 << 20))) { sink[0] = 1; mb++; } /* the sink keeps clang from eliding malloc */
    printf("alloc %u\n", mb);
  }
  else return 2;
  return 0;
}
`;

/** Calls of rec(n): 1 + calls(n-1) + calls(n-2), 1 for n < 2. */
function recCalls(n: number): number {
  const calls = [1, 1];
  for (let i = 2; i <= n; i++) calls.push(1 + calls[i - 1]! + calls[i - 2]!);
  return calls[n]!;
}

const BIG_BUDGET = 1_000_000_000;

function budgetLeft(run: GuestRun): number {
  return (run.instance.exports[BUDGET_EXPORT] as WebAssembly.Global).value as number;
}

/** Events a run counted: whole epochs plus what the last, unfinished one used. */
function eventsOf(run: GuestRun, budget: number): number {
  return run.epochs * budget + (budget - budgetLeft(run));
}

function textModule(wat: string, features = binaryen.Features.MutableGlobals): Uint8Array<ArrayBuffer> {
  const module = binaryen.parseText(wat);
  module.setFeatures(features);
  try {
    return new Uint8Array(module.emitBinary());
  } finally {
    module.dispose();
  }
}

describe('instrumentModule on clang-built guests', { skip: skipWithout('clang') }, () => {
  let original: Uint8Array<ArrayBuffer>;
  let instrumented: InstrumentedModule;
  let bare: WebAssembly.Module;
  let counted: WebAssembly.Module;
  let scratch: string;

  before(async () => {
    original = await compileC(GUEST);
    instrumented = instrumentModule(original);
    bare = new WebAssembly.Module(original);
    counted = new WebAssembly.Module(instrumented.bytes);
    scratch = await mkdtemp(join(tmpdir(), 'shadowvm-instrument-test-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  test('the instrumented guest prints what the original prints', () => {
    for (const args of [
      ['loops', '200000'],
      ['recurse', '22'],
      ['indirect', '20'],
      ['mixed', '20000'],
    ]) {
      const expected = runGuest(bare, { args });
      assert.match(expected.stdout, /^\w+ \d+/);
      assert.equal(runGuest(counted, { args, epochBudget: 1000 }).stdout, expected.stdout);
    }
  });

  test('it reports counted sites and the module hash of the original', () => {
    assert.ok(instrumented.countedSites.loops > 0);
    assert.ok(instrumented.countedSites.functions >= 2, 'rec and rec_indirect count at entry');
    assert.match(instrumented.moduleHash, /^[0-9a-f]{64}$/);
    assert.notEqual(instrumented.moduleHash, instrumentModule(textModule(HAS_GLOBALS)).moduleHash);
  });

  test('the epoch count is the same on every run and every budget adds up to the same events', () => {
    for (const args of [
      ['loops', '100000'],
      ['recurse', '20'],
      ['indirect', '18'],
      ['mixed', '5000'],
    ]) {
      const whole = runGuest(counted, { args, epochBudget: BIG_BUDGET });
      assert.equal(whole.epochs, 0);
      const events = BIG_BUDGET - budgetLeft(whole);
      const first = runGuest(counted, { args, epochBudget: 997 });
      const second = runGuest(counted, { args, epochBudget: 997 });
      assert.equal(first.epochs, second.epochs);
      assert.equal(budgetLeft(first), budgetLeft(second));
      assert.equal(eventsOf(first, 997), events, `${args[0]}: counting is exact across epochs`);
      assert.ok(first.epochs >= Math.floor(events / 997));
    }
  });

  test('the epoch count does not depend on the V8 tier the code runs in', async () => {
    const wasm = join(scratch, 'counted.wasm');
    const runner = join(scratch, 'runner.mjs');
    await writeFile(wasm, instrumented.bytes);
    await writeFile(
      runner,
      `import { readFileSync } from 'node:fs';
       import { runGuest } from ${JSON.stringify(new URL('./testing.js', import.meta.url).href)};
       const run = runGuest(new WebAssembly.Module(readFileSync(process.argv[2])), { epochBudget: 991, args: process.argv.slice(3) });
       console.log(JSON.stringify({ epochs: run.epochs, left: run.instance.exports.${BUDGET_EXPORT}.value, out: run.stdout }));`,
    );
    const inProcess = runGuest(counted, { epochBudget: 991, args: ['loops', '150000'] });
    const expected = { epochs: inProcess.epochs, left: budgetLeft(inProcess), out: inProcess.stdout };
    for (const flags of [['--liftoff', '--no-wasm-tier-up'], ['--no-liftoff']]) {
      const { stdout } = await promisify(execFile)(process.execPath, [...flags, runner, wasm, 'loops', '150000']);
      assert.deepEqual(JSON.parse(stdout), expected, `node ${flags.join(' ')}`);
    }
  });

  test('a tight infinite loop reaches the epoch import', () => {
    const stop = new Error('stop after 5 epochs');
    let epochs = 0;
    assert.throws(
      () =>
        runGuest(counted, {
          args: ['spin'],
          epochBudget: 10_000,
          onEpoch: (epoch) => {
            epochs = epoch;
            if (epoch === 5) throw stop;
          },
        }),
      (error) => error === stop,
    );
    assert.equal(epochs, 5);
  });

  test('a recursive function without loops reaches the epoch import, directly or through a pointer', async () => {
    for (const mode of ['recurse', 'indirect']) {
      const run = runGuest(counted, { args: [mode, '20'], epochBudget: 100 });
      assert.ok(run.epochs >= Math.floor(recCalls(20) / 100), `${mode}: ${run.epochs} epochs`);
    }
  });

  test('memory.grow goes through the grow import, whose -1 makes malloc fail', () => {
    assert.ok(WebAssembly.Module.imports(counted).some((i) => i.module === IMPORT_MODULE && i.name === GROW_IMPORT));
    const allocateUnder = (limit: number): GuestRun =>
      runGuest(counted, {
        args: ['alloc'],
        grow: (delta, memory) => (memory.buffer.byteLength + delta * 65536 > limit ? -1 : memory.grow(delta)),
      });
    const tiny = allocateUnder(1 << 20);
    assert.equal(tiny.stdout, 'alloc 0\n', 'no 1 MiB block fits under a 1 MiB limit');
    assert.ok(tiny.growCalls > 0);
    const capped = allocateUnder(16 << 20);
    const megabytes = Number(/^alloc (\d+)\n$/.exec(capped.stdout)?.[1]);
    assert.ok(megabytes >= 12 && megabytes < 16, `got ${megabytes} MiB under a 16 MiB limit`);
    assert.ok((capped.instance.exports.memory as WebAssembly.Memory).buffer.byteLength <= 16 << 20);
  });

  test('the stack pointer is exported as a register', () => {
    assert.deepEqual(instrumented.globals, ['__shadowvm_g0']);
    const run = runGuest(counted, { args: ['recurse', '5'] });
    const stackPointer = run.instance.exports.__shadowvm_g0;
    assert.ok(stackPointer instanceof WebAssembly.Global);
    assert.ok((stackPointer.value as number) > 0);
  });

  test('a reactor (no _start) is refused with NoStartError', async () => {
    const reactor = await compileC('int twice(int x) { return 2 * x; }', ['-mexec-model=reactor', '-Wl,--export=twice']);
    assert.throws(() => instrumentModule(reactor), NoStartError);
  });

  test('an instrumented module is refused', () => {
    assert.throws(() => instrumentModule(instrumented.bytes), UnsupportedWasmError);
  });
});

const HAS_GLOBALS = `(module
  (memory (export "memory") 1)
  (global $a (mut i32) (i32.const 1))
  (global $b i32 (i32.const 2))
  (global $c (mut i64) (i64.const 3))
  (func (export "_start") (global.set $a (i32.const 7))))`;

describe('instrumentModule on hand-made modules', () => {
  test('every mutable global is exported, in index order, and reads live values', () => {
    const result = instrumentModule(textModule(HAS_GLOBALS));
    assert.deepEqual(result.globals, ['__shadowvm_g0', '__shadowvm_g2']);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(result.bytes), {
      [IMPORT_MODULE]: { epoch: () => undefined, grow: () => -1 },
    });
    (instance.exports._start as () => void)();
    assert.equal((instance.exports.__shadowvm_g0 as WebAssembly.Global).value, 7);
    assert.equal((instance.exports.__shadowvm_g2 as WebAssembly.Global).value, 3n);
    assert.equal(instance.exports.__shadowvm_g1, undefined);
  });

  const cases: [string, Uint8Array, new (...args: never[]) => Error, string][] = [
    ['arbitrary bytes', new TextEncoder().encode('#!/bin/sh\necho hi\n'), NotWasmError, 'not-wasm'],
    ['an empty file', new Uint8Array(0), NotWasmError, 'not-wasm'],
    ['a damaged module', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff, 0x05, 1, 2]), InvalidWasmError, 'wasm-invalid'],
    ['a module without memory', textModule('(module (func (export "_start")))'), NoMemoryError, 'no-memory'],
    ['a module without _start', textModule('(module (memory (export "memory") 1))'), NoStartError, 'no-start'],
    // magic, version, memory section: one memory, flags 0x04 (i64 index), min 1 page
    ['a memory64 module', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 4, 1]), Memory64Error, 'memory64'],
  ];
  for (const [what, bytes, type, code] of cases) {
    test(`${what} is refused with ${type.name}`, () => {
      assert.throws(
        () => instrumentModule(bytes),
        (error: unknown) =>
          error instanceof type && (error as { code?: string }).code === code && !/\n/.test(String((error as Error).message)),
      );
    });
  }
});

/**
 * br_table back-edges, a loop with a value, a call_indirect whose operands contain a call, a call
 * whose operands contain loops and calls (spilled), a two-result function (not threaded).
 */
const MIXED_PATHS = `(module
  (memory (export "memory") 1)
  (global $out (mut i32) (i32.const 0))
  (export "out" (global $out))
  (type $unary (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $twice $inc)
  (func $twice (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $machine (param $n i32) (result i32) (local $state i32) (local $acc i32)
    (loop $top
      (local.set $acc (i32.add (local.get $acc) (local.get $state)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (if (i32.eqz (local.get $n)) (then (return (local.get $acc))))
      (local.set $state (i32.rem_u (i32.add (local.get $state) (i32.const 1)) (i32.const 3)))
      (block $b (br_table $top $b $top (local.get $state)))
      (local.set $acc (i32.add (local.get $acc) (i32.const 100)))
      (br $top))
    (unreachable))
  (func $valued (param $n i32) (result i32) (local $i i32)
    (i32.add
      (call_indirect (type $unary) (call $machine (local.get $n)) (i32.rem_u (local.get $n) (i32.const 2)))
      (loop $l (result i32)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n)))
        (local.get $i))))
  (func $pair (param $n i32) (result i32 i32) (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 3))) (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (tuple.make 2 (local.get $i) (local.get $n)))
  (func $add3 (param i32 i32 i32) (result i32) (i32.add (local.get 0) (i32.add (local.get 1) (local.get 2))))
  (func $spill (param $n i32) (result i32)
    (call $add3 (call $valued (local.get $n)) (call $machine (i32.const 9)) (tuple.extract 2 0 (call $pair (local.get $n)))))
  (func (export "_start") (local $k i32)
    (loop $more
      (global.set $out (i32.add (global.get $out) (call $spill (i32.add (local.get $k) (i32.const 10)))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $k) (i32.const 40))))))`;

/** Exceptions caught in a loop, and recursion by tail calls: the budget stays in the global. */
const THROWS_AND_TAIL_CALLS = `(module
  (memory (export "memory") 1)
  (global $out (mut i32) (i32.const 0))
  (export "out" (global $out))
  (tag $boom (param i32))
  (func $thrower (param $x i32) (if (i32.gt_u (local.get $x) (i32.const 3)) (then (throw $boom (local.get $x)))))
  (func $catcher (param $n i32) (result i32) (local $caught i32) (local $i i32)
    (loop $again
      (try
        (do (call $thrower (local.get $i)))
        (catch $boom
          local.get $caught
          i32.add
          local.set $caught))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $caught))
  (func $countdown (param $n i32) (param $acc i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n)) (then (local.get $acc))
      (else (return_call $countdown (i32.sub (local.get $n) (i32.const 1)) (i32.add (local.get $acc) (local.get $n))))))
  (func (export "_start")
    (global.set $out (i32.add (call $catcher (i32.const 20)) (call $countdown (i32.const 1000) (i32.const 0))))))`;

/**
 * A loop nest whose inner loops have trip counts fixed by the module (as clang -O2 emits a
 * stencil's row and cell loops) inside a loop bounded only at run time, plus a count-down loop.
 * $out counts cell iterations, so an epoch shows how many ran before it.
 */
const FIXED_TRIP_COUNTS = `(module
  (memory (export "memory") 1)
  (global $out (mut i32) (i32.const 0))
  (export "out" (global $out))
  (func (export "_start") (local $step i32) (local $steps i32) (local $y i32) (local $x i32) (local $k i32)
    (local.set $steps (i32.add (i32.load (i32.const 0)) (i32.const 3)))
    (loop $steps
      (local.set $y (i32.const 1))
      (loop $rows
        (local.set $x (i32.const 0))
        (loop $cells
          (global.set $out (i32.add (global.get $out) (i32.const 1)))
          (br_if $cells (i32.ne (local.tee $x (i32.add (local.get $x) (i32.const 4))) (i32.const 40))))
        (br_if $rows (i32.lt_u (local.tee $y (i32.add (local.get $y) (i32.const 1))) (i32.const 6))))
      (local.set $k (i32.const 5))
      (loop $down (br_if $down (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
      (local.set $step (i32.add (local.get $step) (i32.const 1)))
      (br_if $steps (i32.lt_u (local.get $step) (local.get $steps))))))`;

describe('counting through every rewrite path (hand-made modules)', () => {
  const { MutableGlobals, Multivalue, ReferenceTypes, ExceptionHandling, TailCall } = binaryen.Features;
  const cases: [string, string, binaryen.Features, number][] = [
    // taken back-edges: 39 in _start, and for each n = 10..49: n-1 in machine(n), n-1 in valued's
    // loop, 8 in machine(9), ceil(n/3)-1 in pair: 39 + 2280 + 320 + 367
    ['br_table, valued loops, spills, two results', MIXED_PATHS, MutableGlobals | Multivalue | ReferenceTypes, 3006],
    // 19 back-edges of the catch loop + 1001 entries of the tail-recursive countdown
    ['exceptions and tail calls', THROWS_AND_TAIL_CALLS, MutableGlobals | ExceptionHandling | TailCall, 1020],
    // taken back-edges: 2 of $steps, 3 × 4 of $rows, 15 × 9 of $cells, 3 × 4 of $down
    ['loops with fixed trip counts, charged at entry', FIXED_TRIP_COUNTS, MutableGlobals, 161],
  ];
  for (const [what, wat, features, events] of cases) {
    test(`${what}: same result, and every budget down to 1 counts ${events} events`, () => {
      const bytes = textModule(wat, features);
      const bare = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      (bare.exports._start as () => void)();
      const expected = (bare.exports.out as WebAssembly.Global).value as number;
      const counted = new WebAssembly.Module(instrumentModule(bytes).bytes);
      for (const budget of [1, 2, 7, 1000, BIG_BUDGET]) {
        let epochs = 0;
        let budgetGlobal: WebAssembly.Global | undefined;
        const instance = new WebAssembly.Instance(counted, {
          [IMPORT_MODULE]: {
            epoch: () => {
              epochs++;
              budgetGlobal!.value = budget;
            },
            grow: () => -1,
          },
        });
        budgetGlobal = instance.exports[BUDGET_EXPORT] as WebAssembly.Global;
        budgetGlobal.value = budget;
        (instance.exports._start as () => void)();
        assert.equal((instance.exports.out as WebAssembly.Global).value, expected);
        assert.equal(epochs * budget + (budget - (budgetGlobal.value as number)), events, `budget ${budget}`);
      }
    });
  }

  test('a loop with a fixed trip count is charged before its first iteration', () => {
    const counted = new WebAssembly.Module(instrumentModule(textModule(FIXED_TRIP_COUNTS)).bytes);
    const cellsBeforeEpoch: number[] = [];
    let instance: WebAssembly.Instance | undefined;
    instance = new WebAssembly.Instance(counted, {
      [IMPORT_MODULE]: {
        epoch: () => {
          cellsBeforeEpoch.push((instance!.exports.out as WebAssembly.Global).value as number);
          (instance!.exports[BUDGET_EXPORT] as WebAssembly.Global).value = 10;
        },
        grow: () => -1,
      },
    });
    (instance.exports[BUDGET_EXPORT] as WebAssembly.Global).value = 10;
    (instance.exports._start as () => void)();
    // The first charges, 4 ($rows) then 9 ($cells), exceed 10 before any cell ran. The overdraft
    // of 3 carries over: 7 left, so the next $cells charge (after its 10 iterations) epochs again.
    assert.deepEqual(cellsBeforeEpoch.slice(0, 2), [0, 10]);
    assert.equal(cellsBeforeEpoch.length, Math.floor(161 / 10));
  });
});
