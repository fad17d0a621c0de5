// Rewrites one function: a counter on every branch back to a loop header and, for functions that
// can recurse, at entry; `memory.grow` becomes a call to the host. See instrument.ts for why these
// counters bound the work between two epochs.
//
// Back-edges rather than loop headers: entering a loop is already paid for by whatever reached
// it, and a short inner loop that usually runs once (a match search's compare loop) then costs
// nothing. Counting is still deterministic: every taken back-edge is one event.
//
// Where the budget lives while a function runs decides what counting costs. A wasm global is a
// load and a store through memory per event, and the store-to-load latency then bounds a tight
// loop or a call-heavy recursion (measured: 1.4× on a recursive function). So:
//   - 'param': functions that only direct calls reach get the budget as an extra last parameter
//     and hand it back as an extra last result, so it stays in registers across calls
//     (measured on a call-heavy recursion: ~1% instead of ~40%);
//   - 'local': other functions with loops (exported, or called through a table) copy it into a
//     local on entry;
//   - 'global': the rest (and any function with exception handlers, where an exception can land
//     in a catch without passing through our code) use the global directly.
// A register-held budget is written back to the global before every call that could observe it
// (callees that count, imports such as the epoch call) and reloaded after it, and on every exit.
// The global is therefore exact at every import call and whenever an export returns.
//
// The rare epoch call must not sit inside the loop it counts: V8 neither unrolls a loop that
// contains a call nor keeps its values in registers across one, and the memory base must be
// reloaded after it (measured: a CRC loop 1.33× slower with the call in a never-taken branch,
// 1.005× without). So a back-edge that finds the budget used up leaves the loop for the call,
// and then takes the back-edge it was about to take:
//     block $done
//       loop $retry
//         block $exhausted
//           br $done (loop $L (… budget -= 1; br_if $exhausted (budget <= 0); br $L …))
//         budget = sync(budget)
//         br $retry                      ;; to the header of $L, as the back-edge would

import binaryen from 'binaryen';
import { boundedLoops } from './bounded-loops.js';
import { type ChildSlot, childrenOf, type Expr, method, walkPostOrder } from './expression-tree.js';

/** Internal (not exported) names of what instrument.ts adds to the module. */
export interface BudgetNames {
  /** The budget global. */
  readonly budget: string;
  /** Import `shadowvm.epoch`. */
  readonly epoch: string;
  /** Import `shadowvm.grow`. */
  readonly grow: string;
  /**
   * Helper `(budget: i32) -> i32`: stores the budget, calls epoch, returns the new budget less
   * the overdraft of an upfront loop charge (calling epoch again while that leaves nothing), or 1
   * if the host left the budget at 0 or below, so that it cannot stall a loop in epoch calls.
   */
  readonly sync: string;
}

export type BudgetHome = 'global' | 'local' | 'param';

export interface FunctionPlan {
  readonly func: binaryen.FunctionRef;
  readonly home: BudgetHome;
  /** Counts one event per entry (the function is in a cycle of the call graph). */
  readonly countEntry: boolean;
  /** 'param' only: parameters before the budget; locals at or above it move up by one. */
  readonly budgetParam?: number;
  /** Labels of the function's loops (binaryen keeps labels unique within a function). */
  readonly loopLabels: ReadonlySet<string>;
}

/** What the rewriter must know about the callee of a direct call. */
export interface CalleeKinds {
  /** Takes the budget as its last parameter and returns it as its last result. */
  isThreaded(name: string): boolean;
  /** Never reads or writes the budget, so calling it needs no sync. */
  isNeutral(name: string): boolean;
  /** Every function a call_indirect of this signature (see signatureKey) can reach is neutral. */
  isNeutralIndirect(signature: string): boolean;
}

const getLoopName = method<(loop: Expr) => string | null>('Loop', 'getName');
const getBreakName = method<(br: Expr) => string>('Break', 'getName');
const getBreakCondition = method<(br: Expr) => Expr>('Break', 'getCondition');
const getSwitchNames = method<(table: Expr) => string[]>('Switch', 'getNames');
const setSwitchNameAt = method<(table: Expr, index: number, name: string) => void>('Switch', 'setNameAt');
const getSwitchDefault = method<(table: Expr) => string>('Switch', 'getDefaultName');
const setSwitchDefault = method<(table: Expr, name: string) => void>('Switch', 'setDefaultName');
const getGrowDelta = method<(grow: Expr) => Expr>('MemoryGrow', 'getDelta');
const getReturnValue = method<(ret: Expr) => Expr>('Return', 'getValue');
const setReturnValue = method<(ret: Expr, value: Expr) => void>('Return', 'setValue');
const getLocalGetIndex = method<(expr: Expr) => number>('LocalGet', 'getIndex');
const setLocalGetIndex = method<(expr: Expr, index: number) => void>('LocalGet', 'setIndex');
const getLocalSetIndex = method<(expr: Expr) => number>('LocalSet', 'getIndex');
const setLocalSetIndex = method<(expr: Expr, index: number) => void>('LocalSet', 'setIndex');
const setFunctionBody = method<(func: binaryen.FunctionRef, body: Expr) => void>('Function', 'setBody');
const addVar = (binaryen as unknown as { _BinaryenFunctionAddVar(func: number, type: number): number })._BinaryenFunctionAddVar;

const CALL_IDS = new Set([binaryen.CallId, binaryen.CallIndirectId, binaryen.CallRefId]);

/** Identifies a function type; binaryen interns types, so equal types have equal numbers. */
export function signatureKey(params: binaryen.Type, results: binaryen.Type): string {
  return `${params}:${results}`;
}

function retryLabels(loop: string): { done: string; retry: string; exhausted: string } {
  return { done: `__shadowvm_done_${loop}`, retry: `__shadowvm_retry_${loop}`, exhausted: `__shadowvm_exhausted_${loop}` };
}

/** Adds the sync helper every counter calls on its rare path. */
export function addSyncHelper(module: binaryen.Module, names: BudgetNames): void {
  const { i32, none } = binaryen;
  const m = module;
  const budget = (): Expr => m.global.get(names.budget, i32);
  const left = (): Expr => m.local.get(0, i32);
  // The overdraft is carried into the next epoch so that every event is charged exactly once:
  // events = epochs × epoch length + what the last epoch used, whatever the charges' sizes.
  m.addFunction(
    names.sync,
    i32,
    i32,
    [],
    m.block(
      null,
      [
        m.loop(
          'again',
          m.block(null, [
            m.global.set(names.budget, left()),
            m.call(names.epoch, [], none),
            m.if(m.i32.le_s(budget(), m.i32.const(0)), m.return(m.i32.const(1))),
            m.local.set(0, m.i32.add(budget(), left())),
            m.br('again', m.i32.le_s(left(), m.i32.const(0))),
          ]),
        ),
        left(),
      ],
      i32,
    ),
  );
}

/** The results of a threaded function: its original results plus the budget. */
export function threadedResults(results: binaryen.Type): binaryen.Type {
  return results === binaryen.none ? binaryen.i32 : binaryen.createType([results, binaryen.i32]);
}

/** Rewrites `plan.func` in place; returns the number of loops that got a counter. */
export function rewriteFunction(module: binaryen.Module, names: BudgetNames, callees: CalleeKinds, plan: FunctionPlan): number {
  return new FunctionRewriter(module, names, callees, plan).run();
}

class FunctionRewriter {
  /** The local or parameter holding the budget ('local' and 'param' homes). */
  private readonly register: number;
  /** One scratch local per type for values held across a sync (set and read with nothing between). */
  private readonly scratch = new Map<binaryen.Type, number>();
  /** Loops with at least one counted back-edge: they get the retry structure. */
  private readonly counted = new Set<string>();
  /** Loops charged once per entry (see bounded-loops.ts), with their back-edges per entry. */
  private readonly bounded: ReadonlyMap<string, number>;
  /** Numbers the blocks that route br_table back-edges through a counter. */
  private routes = 0;

  constructor(
    private readonly module: binaryen.Module,
    private readonly names: BudgetNames,
    private readonly callees: CalleeKinds,
    private readonly plan: FunctionPlan,
  ) {
    this.register = plan.home === 'param' ? plan.budgetParam! : plan.home === 'local' ? addVar(plan.func, binaryen.i32) : -1;
    this.bounded = boundedLoops(binaryen.getFunctionInfo(plan.func).body);
  }

  run(): number {
    const { func } = this.plan;
    const root: ChildSlot = { child: binaryen.getFunctionInfo(func).body, replace: (body) => setFunctionBody(func, body) };
    // The flag each node returns: "evaluating this may change the budget" (it contains a loop or a
    // call). Operands with that flag must be evaluated before the sync that precedes a call.
    walkPostOrder(root, ({ expr, id, slot, childFlag }) => {
      switch (id) {
        case binaryen.LocalGetId:
        case binaryen.LocalSetId:
          this.shiftLocal(expr, id);
          return false;
        case binaryen.BreakId: {
          const target = getBreakName(expr);
          if (this.plan.loopLabels.has(target) && !this.bounded.has(target)) {
            this.countBackEdge(slot, target, getBreakCondition(expr));
          }
          return childFlag;
        }
        case binaryen.SwitchId:
          this.countTableBackEdges(slot);
          return childFlag;
        case binaryen.LoopId: {
          const label = getLoopName(expr);
          if (label !== null && this.counted.has(label)) this.addRetry(slot, label);
          const charge = label === null ? undefined : this.bounded.get(label);
          if (charge) slot.replace(this.block([this.charge(charge), expr]));
          return true;
        }
        case binaryen.MemoryGrowId: {
          const call = this.module.call(this.names.grow, [getGrowDelta(expr)], binaryen.i32);
          slot.replace(call);
          this.rewriteCall({ child: call, replace: slot.replace }, childFlag);
          return true;
        }
        case binaryen.ReturnId:
          this.rewriteReturn(slot, childFlag);
          return childFlag;
        case binaryen.ThrowId:
          if (this.plan.home !== 'global') this.syncBeforeExit(slot, childFlag);
          return childFlag;
        default:
          if (!CALL_IDS.has(id)) return childFlag;
          this.rewriteCall(slot, childFlag);
          return true;
      }
    });
    this.wrapBody();
    return this.counted.size + this.bounded.size;
  }

  /** Makes room for the budget parameter: the function's own locals move up by one. */
  private shiftLocal(expr: Expr, id: number): void {
    const first = this.plan.budgetParam;
    if (first === undefined) return;
    const [get, set] = id === binaryen.LocalGetId ? [getLocalGetIndex, setLocalGetIndex] : [getLocalSetIndex, setLocalSetIndex];
    const index = get(expr);
    if (index >= first) set(expr, index + 1);
  }

  private readBudget(): Expr {
    return this.plan.home === 'global'
      ? this.module.global.get(this.names.budget, binaryen.i32)
      : this.module.local.get(this.register, binaryen.i32);
  }

  private writeBudget(value: Expr): Expr {
    return this.plan.home === 'global' ? this.module.global.set(this.names.budget, value) : this.module.local.set(this.register, value);
  }

  /** Statements that count `events`, and a test that is true when the budget is used up. */
  private decrement(events = 1): { statements: Expr[]; exhausted: Expr } {
    const m = this.module;
    const { i32 } = binaryen;
    const left = this.plan.home === 'global' ? this.scratchLocal(i32) : this.register;
    const decremented = m.local.tee(left, m.i32.sub(this.readBudget(), m.i32.const(events)), i32);
    if (this.plan.home === 'global') {
      return {
        statements: [m.global.set(this.names.budget, decremented)],
        exhausted: m.i32.le_s(m.local.get(left, i32), m.i32.const(0)),
      };
    }
    return { statements: [], exhausted: m.i32.le_s(decremented, m.i32.const(0)) };
  }

  /** The epoch call: hands the budget to the host and takes the new one. */
  private epochCall(): Expr {
    return this.writeBudget(this.module.call(this.names.sync, [this.readBudget()], binaryen.i32));
  }

  /** Counts the back-edge to `loop`, then takes it (or leaves for the epoch call first). */
  private backEdge(loop: string): Expr[] {
    this.counted.add(loop);
    const { statements, exhausted } = this.decrement();
    return [...statements, this.module.br_if(retryLabels(loop).exhausted, exhausted), this.module.br(loop)];
  }

  /** `br $L` and `br_if $L c` (loop labels carry no value). */
  private countBackEdge(slot: ChildSlot, loop: string, condition: Expr): void {
    const jump = this.block(this.backEdge(loop));
    slot.replace(condition ? this.module.if(condition, jump) : jump);
  }

  /**
   * A br_table can branch to a loop only through its label, so each loop target is redirected to
   * a new block that ends in the counted back-edge: (block $route (br_table … $route …)) count;
   * br $L. A br_table always branches, so the code after $route runs only for that target.
   */
  private countTableBackEdges(slot: ChildSlot): void {
    const table = slot.child;
    const routes = new Map<string, string>();
    const routeFor = (target: string): string => {
      if (!this.plan.loopLabels.has(target)) return target;
      let route = routes.get(target);
      if (route === undefined) {
        route = `__shadowvm_route${this.routes++}`;
        routes.set(target, route);
      }
      return route;
    };
    for (const [index, target] of getSwitchNames(table).entries()) setSwitchNameAt(table, index, routeFor(target));
    setSwitchDefault(table, routeFor(getSwitchDefault(table)));
    let routed = table;
    for (const [loop, route] of routes) {
      routed = this.block([this.module.block(route, [routed], binaryen.none), ...this.backEdge(loop)]);
    }
    if (routed !== table) slot.replace(routed);
  }

  /** Wraps a loop whose back-edges count in the structure that makes the epoch call. */
  private addRetry(slot: ChildSlot, loop: string): void {
    const m = this.module;
    const body = slot.child;
    const { done, retry, exhausted } = retryLabels(loop);
    const leave = binaryen.getExpressionType(body) === binaryen.none ? [body, m.br(done)] : [m.br(done, undefined, body)];
    const retrying = this.block([m.block(exhausted, leave, binaryen.none), this.epochCall(), m.br(retry)]);
    slot.replace(m.block(done, [m.loop(retry, retrying)], binaryen.auto));
  }

  /** Counts `events` at once (a function entry, a bounded loop); the epoch call, if due, is here. */
  private charge(events: number): Expr {
    const { statements, exhausted } = this.decrement(events);
    return this.block([...statements, this.module.if(exhausted, this.epochCall())]);
  }

  private writeBack(): Expr {
    return this.module.global.set(this.names.budget, this.module.local.get(this.register, binaryen.i32));
  }

  private reload(): Expr {
    return this.module.local.set(this.register, this.module.global.get(this.names.budget, binaryen.i32));
  }

  private rewriteCall(slot: ChildSlot, operandsMayChangeBudget: boolean): void {
    const call = slot.child;
    const id = binaryen.getExpressionId(call);
    const info = binaryen.getExpressionInfo(call) as binaryen.ExpressionInfo & {
      isReturn?: boolean;
      target?: unknown;
      params?: binaryen.Type;
      results?: binaryen.Type;
    };
    const target = id === binaryen.CallId ? (info.target as string) : undefined;
    if (target !== undefined && this.callees.isNeutral(target)) return;
    if (id === binaryen.CallIndirectId && this.callees.isNeutralIndirect(signatureKey(info.params!, info.results!))) return;
    if (target !== undefined && this.callees.isThreaded(target)) {
      this.threadThrough(slot, target, info.type);
      return;
    }
    if (this.plan.home === 'global') return; // the callee reads and writes the global itself
    if (info.isReturn) {
      this.syncBeforeExit(slot, operandsMayChangeBudget);
      return;
    }
    if (info.type === binaryen.unreachable) return; // an operand never returns: the call never runs
    const spills = operandsMayChangeBudget ? this.spillOperands(call) : [];
    if (info.type === binaryen.none) {
      slot.replace(this.block([...spills, this.writeBack(), call, this.reload()]));
      return;
    }
    const result = this.scratchLocal(info.type);
    slot.replace(
      this.block([
        ...spills,
        this.writeBack(),
        this.module.local.set(result, call),
        this.reload(),
        this.module.local.get(result, info.type),
      ]),
    );
  }

  /**
   * A call to a threaded function: the budget goes in as the last argument (read after the other
   * arguments were evaluated, so no spill is needed) and comes back as the last result.
   */
  private threadThrough(slot: ChildSlot, target: string, results: binaryen.Type): void {
    if (results === binaryen.unreachable) return;
    const m = this.module;
    const operands = childrenOf(slot.child).map(({ child }) => child);
    const returned = threadedResults(results);
    const call = m.call(target, [...operands, this.readBudget()], returned);
    if (results === binaryen.none) {
      slot.replace(this.writeBudget(call));
      return;
    }
    const both = this.scratchLocal(returned);
    slot.replace(
      this.block([
        m.local.set(both, call),
        this.writeBudget(m.tuple.extract(m.local.get(both, returned), 1)),
        m.tuple.extract(m.local.get(both, returned), 0),
      ]),
    );
  }

  /** Tail calls and throws leave the function: only the write-back is needed. */
  private syncBeforeExit(slot: ChildSlot, operandsMayChangeBudget: boolean): void {
    const exit = slot.child;
    if (childrenOf(exit).some(({ child }) => binaryen.getExpressionType(child) === binaryen.unreachable)) return;
    const spills = operandsMayChangeBudget ? this.spillOperands(exit) : [];
    slot.replace(this.block([...spills, this.writeBack(), exit]));
  }

  private rewriteReturn(slot: ChildSlot, valueMayChangeBudget: boolean): void {
    const ret = slot.child;
    const value = getReturnValue(ret);
    if (value && binaryen.getExpressionType(value) === binaryen.unreachable) return;
    switch (this.plan.home) {
      case 'global':
        return;
      case 'param':
        // Operands evaluate in order, so the budget is read after the value was computed.
        setReturnValue(ret, value ? this.module.tuple.make([value, this.readBudget()]) : this.readBudget());
        return;
      case 'local': {
        if (!value || !valueMayChangeBudget) {
          slot.replace(this.block([this.writeBack(), ret]));
          return;
        }
        const type = binaryen.getExpressionType(value);
        const held = this.scratchLocal(type);
        const set = this.module.local.set(held, value);
        setReturnValue(ret, this.module.local.get(held, type));
        slot.replace(this.block([set, this.writeBack(), ret]));
      }
    }
  }

  /**
   * Moves each operand of `expr` into a fresh local, in evaluation order, so that the sync can sit
   * between the operands and the call. Fresh (not scratch) locals: a later operand may contain
   * another call whose own spills run while earlier operands' values are still held.
   */
  private spillOperands(expr: Expr): Expr[] {
    return childrenOf(expr).map(({ child, replace }) => {
      const type = binaryen.getExpressionType(child);
      const local = addVar(this.plan.func, type);
      replace(this.module.local.get(local, type));
      return this.module.local.set(local, child);
    });
  }

  /** Entry: load the budget and count entry if recursive. Exit: hand the budget back. */
  private wrapBody(): void {
    const { func, home, countEntry } = this.plan;
    const info = binaryen.getFunctionInfo(func);
    const body = info.body;
    const entry = home === 'local' ? [this.reload()] : [];
    if (countEntry) entry.push(this.charge(1));
    const bodyType = binaryen.getExpressionType(body);
    if (home === 'global' || bodyType === binaryen.unreachable) {
      if (entry.length > 0) setFunctionBody(func, this.block([...entry, body]));
      return;
    }
    const m = this.module;
    if (home === 'param') {
      const exit = bodyType === binaryen.none ? this.block([body, this.readBudget()]) : m.tuple.make([body, this.readBudget()]);
      setFunctionBody(func, this.block([...entry, exit]));
    } else if (bodyType === binaryen.none) {
      setFunctionBody(func, this.block([...entry, body, this.writeBack()]));
    } else {
      const result = this.scratchLocal(bodyType);
      setFunctionBody(func, this.block([...entry, m.local.set(result, body), this.writeBack(), m.local.get(result, bodyType)]));
    }
  }

  private scratchLocal(type: binaryen.Type): number {
    let local = this.scratch.get(type);
    if (local === undefined) {
      local = addVar(this.plan.func, type);
      this.scratch.set(type, local);
    }
    return local;
  }

  private block(children: Expr[]): Expr {
    return this.module.block(null, children, binaryen.auto);
  }
}
