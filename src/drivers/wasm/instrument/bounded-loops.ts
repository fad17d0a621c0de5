// Loops whose number of iterations the module itself fixes: clang -O2 turns
// `for (i = C0; i < C1; i += S)` into a local set to a constant just before the loop and one
// back-edge at the end of the body, `br_if $L (i32.ne (local.tee $i (i32.add (local.get $i)
// (i32.const S))) (i32.const C1'))`. When $i is written nowhere else in the loop and that br_if is
// the loop's only back-edge, every entry takes the same number of back-edges, known here. Such a
// loop can be charged that many events once, before it is entered, instead of one per back-edge:
// counting stays deterministic (the charge depends only on the module) and the loop cannot run
// unboundedly, so it needs no epoch check inside. It pays off on the tight inner loops of numeric
// code (a stencil's row loop), where a per-iteration decrement-and-test is a visible share of
// each iteration.

import binaryen from 'binaryen';
import { type Expr, walkPostOrder } from './expression-tree.js';

/**
 * The largest charge taken at once. A bigger loop keeps counting per back-edge, so that one
 * charge cannot delay an epoch by more than this many events (and the budget cannot overflow).
 */
export const MAX_UPFRONT_CHARGE = 1 << 20;

/** Expressions that may hand control to code that observes the budget. */
const OBSERVERS = new Set([
  binaryen.CallId,
  binaryen.CallIndirectId,
  binaryen.CallRefId,
  binaryen.MemoryGrowId,
  binaryen.TryId,
  binaryen.ThrowId,
  binaryen.RethrowId,
]);

/**
 * Labels of the loops under `body` whose back-edges per entry are fixed by the module, with that
 * number (at most MAX_UPFRONT_CHARGE). Such loops contain no call, so no import can see the
 * budget while they run.
 */
export function boundedLoops(body: Expr): Map<string, number> {
  const bounded = new Map<string, number>();
  walkPostOrder({ child: body, replace: () => undefined }, ({ expr, id }) => {
    if (id !== binaryen.BlockId) return false;
    const siblings = (binaryen.getExpressionInfo(expr) as binaryen.BlockInfo).children;
    siblings.forEach((child, index) => {
      if (binaryen.getExpressionId(child) !== binaryen.LoopId) return;
      const label = (binaryen.getExpressionInfo(child) as binaryen.LoopInfo).name;
      if (!label) return;
      const backEdges = fixedBackEdges(child, label, siblings.slice(0, index));
      if (backEdges !== undefined) bounded.set(label, backEdges);
    });
    return false;
  });
  return bounded;
}

/** The back-edges every entry of `loop` takes, or undefined when the loop is not of the form. */
function fixedBackEdges(loop: Expr, label: string, before: readonly Expr[]): number | undefined {
  const loopBody = (binaryen.getExpressionInfo(loop) as binaryen.LoopInfo).body;
  const statements =
    binaryen.getExpressionId(loopBody) === binaryen.BlockId
      ? (binaryen.getExpressionInfo(loopBody) as binaryen.BlockInfo).children
      : [loopBody];
  const backEdge = statements.find((s) => branchTarget(s) === label);
  if (backEdge === undefined) return undefined;
  const test = counterTest((binaryen.getExpressionInfo(backEdge) as binaryen.BreakInfo).condition);
  if (!test) return undefined;
  const facts = subtreeFacts(loop, label, test.local);
  if (facts.backEdges !== 1 || facts.writes !== 1 || facts.observes) return undefined;
  const start = initialValue(before, test.local);
  return start === undefined ? undefined : simulate(start, test);
}

/** A counter's update and exit test: continue while `compare(counter += step, bound)`. */
interface CounterTest {
  readonly local: number;
  readonly step: number;
  /** The binary op, with the counter on the left (`counterLeft`) or the right, or 'nonzero'. */
  readonly op: number | 'nonzero';
  readonly counterLeft: boolean;
  readonly bound: number;
}

function branchTarget(expr: Expr): string | undefined {
  if (binaryen.getExpressionId(expr) !== binaryen.BreakId) return undefined;
  const info = binaryen.getExpressionInfo(expr) as binaryen.BreakInfo;
  return info.condition && !info.value ? info.name : undefined;
}

/** Recognizes `tee $i ($i ± S)` compared with a constant, or alone (nonzero test). */
function counterTest(condition: Expr): CounterTest | undefined {
  const alone = counterUpdate(condition);
  if (alone) return { ...alone, op: 'nonzero', counterLeft: true, bound: 0 };
  if (binaryen.getExpressionId(condition) !== binaryen.BinaryId) return undefined;
  const { op, left, right } = binaryen.getExpressionInfo(condition) as binaryen.BinaryInfo;
  if (!COMPARISONS.has(op)) return undefined;
  for (const [counter, other, counterLeft] of [
    [left, right, true],
    [right, left, false],
  ] as const) {
    const update = counterUpdate(counter);
    const bound = i32Constant(other);
    if (update && bound !== undefined) return { ...update, op, counterLeft, bound };
  }
  return undefined;
}

const COMPARISONS = new Set([
  binaryen.EqInt32,
  binaryen.NeInt32,
  binaryen.LtSInt32,
  binaryen.LtUInt32,
  binaryen.GtSInt32,
  binaryen.GtUInt32,
  binaryen.LeSInt32,
  binaryen.LeUInt32,
  binaryen.GeSInt32,
  binaryen.GeUInt32,
]);

/** `local.tee $i (i32.add (local.get $i) (i32.const S))` (either order) or `i32.sub … S`. */
function counterUpdate(expr: Expr): { local: number; step: number } | undefined {
  if (binaryen.getExpressionId(expr) !== binaryen.LocalSetId) return undefined;
  const set = binaryen.getExpressionInfo(expr) as binaryen.LocalSetInfo;
  if (!set.isTee || binaryen.getExpressionType(expr) !== binaryen.i32) return undefined;
  if (binaryen.getExpressionId(set.value) !== binaryen.BinaryId) return undefined;
  const { op, left, right } = binaryen.getExpressionInfo(set.value) as binaryen.BinaryInfo;
  const isCounter = (e: Expr): boolean =>
    binaryen.getExpressionId(e) === binaryen.LocalGetId && (binaryen.getExpressionInfo(e) as binaryen.LocalGetInfo).index === set.index;
  let step: number | undefined;
  if (op === binaryen.AddInt32) step = isCounter(left) ? i32Constant(right) : isCounter(right) ? i32Constant(left) : undefined;
  else if (op === binaryen.SubInt32 && isCounter(left)) step = negate(i32Constant(right));
  return step === undefined || step === 0 ? undefined : { local: set.index, step };
}

function negate(value: number | undefined): number | undefined {
  return value === undefined ? undefined : -value | 0;
}

function i32Constant(expr: Expr): number | undefined {
  if (binaryen.getExpressionId(expr) !== binaryen.ConstId || binaryen.getExpressionType(expr) !== binaryen.i32) return undefined;
  return (binaryen.getExpressionInfo(expr) as binaryen.ConstInfo).value as number;
}

/** Branches to the loop, writes of the counter, and whether anything can observe the budget. */
function subtreeFacts(loop: Expr, label: string, local: number): { backEdges: number; writes: number; observes: boolean } {
  const facts = { backEdges: 0, writes: 0, observes: false };
  walkPostOrder({ child: loop, replace: () => undefined }, ({ expr, id }) => {
    if (OBSERVERS.has(id)) facts.observes = true;
    else if (id === binaryen.LocalSetId && (binaryen.getExpressionInfo(expr) as binaryen.LocalSetInfo).index === local) facts.writes++;
    else if (id === binaryen.BreakId && (binaryen.getExpressionInfo(expr) as binaryen.BreakInfo).name === label) facts.backEdges++;
    else if (id === binaryen.SwitchId) {
      const info = binaryen.getExpressionInfo(expr) as binaryen.SwitchInfo;
      if (info.defaultName === label || info.names.includes(label)) facts.backEdges += 2; // never the form
    }
    return false;
  });
  return facts;
}

/**
 * The constant the counter holds when the loop is entered: the nearest preceding sibling that
 * writes it must be `local.set $i (i32.const C)` (siblings in between run straight through or
 * leave the block, so they either keep $i or never reach the loop).
 */
function initialValue(before: readonly Expr[], local: number): number | undefined {
  for (let i = before.length - 1; i >= 0; i--) {
    const sibling = before[i]!;
    if (binaryen.getExpressionId(sibling) === binaryen.LocalSetId) {
      const set = binaryen.getExpressionInfo(sibling) as binaryen.LocalSetInfo;
      if (set.index === local) return set.isTee ? undefined : i32Constant(set.value);
    }
    if (writesLocal(sibling, local)) return undefined;
  }
  return undefined;
}

function writesLocal(expr: Expr, local: number): boolean {
  let writes = false;
  walkPostOrder({ child: expr, replace: () => undefined }, ({ expr: e, id }) => {
    if (id === binaryen.LocalSetId && (binaryen.getExpressionInfo(e) as binaryen.LocalSetInfo).index === local) writes = true;
    return false;
  });
  return writes;
}

/**
 * Runs the counter in i32 arithmetic: the back-edges taken before the test first fails, or
 * undefined past MAX_UPFRONT_CHARGE. Running it, rather than a closed formula, gets wrap-around
 * and every comparison right by construction.
 */
function simulate(start: number, test: CounterTest): number | undefined {
  let counter = start | 0;
  for (let backEdges = 0; backEdges <= MAX_UPFRONT_CHARGE; backEdges++) {
    counter = (counter + test.step) | 0;
    const [a, b] = test.counterLeft ? [counter, test.bound] : [test.bound, counter];
    if (!holds(test.op, a, b)) return backEdges;
  }
  return undefined;
}

function holds(op: number | 'nonzero', a: number, b: number): boolean {
  const [ua, ub] = [a >>> 0, b >>> 0];
  switch (op) {
    case 'nonzero':
      return a !== 0;
    case binaryen.EqInt32:
      return a === b;
    case binaryen.NeInt32:
      return a !== b;
    case binaryen.LtSInt32:
      return a < b;
    case binaryen.LtUInt32:
      return ua < ub;
    case binaryen.GtSInt32:
      return a > b;
    case binaryen.GtUInt32:
      return ua > ub;
    case binaryen.LeSInt32:
      return a <= b;
    case binaryen.LeUInt32:
      return ua <= ub;
    case binaryen.GeSInt32:
      return a >= b;
    case binaryen.GeUInt32:
      return ua >= ub;
    default:
      throw new Error(`not a comparison: binary op ${op}`);
  }
}
