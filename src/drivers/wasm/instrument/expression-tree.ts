// Generic traversal of binaryen.js expression trees. binaryen.js exposes per-kind getters and
// setters (binaryen.If.getCondition…) but no child iterator, so this table lists, per expression
// kind, where its children are. Kinds missing from the table are refused rather than skipped: a
// loop hidden under an expression we cannot see into would run without ever reaching an epoch.

import binaryen from 'binaryen';
import { UnsupportedWasmError } from './errors.js';

export type Expr = binaryen.ExpressionRef;

/** A child position in a parent expression: the child there now, and how to put another there. */
export interface ChildSlot {
  readonly child: Expr;
  replace(next: Expr): void;
}

type Getter = (expr: Expr) => Expr;
type Setter = (expr: Expr, child: Expr) => void;
type IndexGetter = (expr: Expr, index: number) => Expr;
type IndexSetter = (expr: Expr, index: number, child: Expr) => void;
type Counter = (expr: Expr) => number;
type ChildReader = (expr: Expr, out: ChildSlot[]) => void;

/** binaryen.js's expression classes, which its type declarations leave out. */
const classes = binaryen as unknown as Record<string, Record<string, unknown> | undefined>;

/** A static method of a binaryen.js expression class, e.g. method('Loop', 'setBody'). */
export function method<T>(className: string, name: string): T {
  const fn = classes[className]?.[name];
  if (typeof fn !== 'function') throw new Error(`binaryen.js has no ${className}.${name}: update expression-tree.ts`);
  return fn as T;
}

/** A child that is always or optionally present (If.ifFalse, Return.value… are 0 when absent). */
function field(className: string, name: string): ChildReader {
  const get = method<Getter>(className, `get${name}`);
  const set = method<Setter>(className, `set${name}`);
  return (expr, out) => {
    const child = get(expr);
    if (child) out.push({ child, replace: (next) => set(expr, next) });
  };
}

/** A list of children, e.g. field list('Block', 'Children', 'Child'). */
function list(className: string, plural: string, singular: string): ChildReader {
  const count = method<Counter>(className, `getNum${plural}`);
  const get = method<IndexGetter>(className, `get${singular}At`);
  const set = method<IndexSetter>(className, `set${singular}At`);
  return (expr, out) => {
    const n = count(expr);
    for (let i = 0; i < n; i++) out.push({ child: get(expr, i), replace: (next) => set(expr, i, next) });
  };
}

function fields(className: string, ...names: string[]): ChildReader[] {
  return names.map((name) => field(className, name));
}

/** Children by expression kind (named as in binaryen's `_Binaryen<Kind>Id`), in evaluation order. */
const CHILDREN: Record<string, readonly ChildReader[]> = {
  Block: [list('Block', 'Children', 'Child')],
  If: fields('If', 'Condition', 'IfTrue', 'IfFalse'),
  Loop: fields('Loop', 'Body'),
  Break: fields('Break', 'Value', 'Condition'),
  Switch: fields('Switch', 'Value', 'Condition'),
  Call: [list('Call', 'Operands', 'Operand')],
  CallIndirect: [list('CallIndirect', 'Operands', 'Operand'), field('CallIndirect', 'Target')],
  CallRef: [list('CallRef', 'Operands', 'Operand'), field('CallRef', 'Target')],
  LocalSet: fields('LocalSet', 'Value'),
  GlobalSet: fields('GlobalSet', 'Value'),
  Load: fields('Load', 'Ptr'),
  Store: fields('Store', 'Ptr', 'Value'),
  AtomicRMW: fields('AtomicRMW', 'Ptr', 'Value'),
  AtomicCmpxchg: fields('AtomicCmpxchg', 'Ptr', 'Expected', 'Replacement'),
  AtomicWait: fields('AtomicWait', 'Ptr', 'Expected', 'Timeout'),
  AtomicNotify: fields('AtomicNotify', 'Ptr', 'NotifyCount'),
  SIMDExtract: fields('SIMDExtract', 'Vec'),
  SIMDReplace: fields('SIMDReplace', 'Vec', 'Value'),
  SIMDShuffle: fields('SIMDShuffle', 'Left', 'Right'),
  SIMDTernary: fields('SIMDTernary', 'A', 'B', 'C'),
  SIMDShift: fields('SIMDShift', 'Vec', 'Shift'),
  SIMDLoad: fields('SIMDLoad', 'Ptr'),
  SIMDLoadStoreLane: fields('SIMDLoadStoreLane', 'Ptr', 'Vec'),
  MemoryInit: fields('MemoryInit', 'Dest', 'Offset', 'Size'),
  MemoryCopy: fields('MemoryCopy', 'Dest', 'Source', 'Size'),
  MemoryFill: fields('MemoryFill', 'Dest', 'Value', 'Size'),
  Unary: fields('Unary', 'Value'),
  Binary: fields('Binary', 'Left', 'Right'),
  Select: fields('Select', 'IfTrue', 'IfFalse', 'Condition'),
  Drop: fields('Drop', 'Value'),
  Return: fields('Return', 'Value'),
  MemoryGrow: fields('MemoryGrow', 'Delta'),
  RefIsNull: fields('RefIsNull', 'Value'),
  RefAs: fields('RefAs', 'Value'),
  RefEq: fields('RefEq', 'Left', 'Right'),
  TableGet: fields('TableGet', 'Index'),
  TableSet: fields('TableSet', 'Index', 'Value'),
  TableGrow: fields('TableGrow', 'Value', 'Delta'),
  Try: [field('Try', 'Body'), list('Try', 'CatchBodies', 'CatchBody')],
  Throw: [list('Throw', 'Operands', 'Operand')],
  TupleMake: [list('TupleMake', 'Operands', 'Operand')],
  TupleExtract: fields('TupleExtract', 'Tuple'),
};

const LEAVES = [
  'Nop',
  'LocalGet',
  'GlobalGet',
  'Const',
  'MemorySize',
  'Unreachable',
  'Pop',
  'RefNull',
  'RefFunc',
  'DataDrop',
  'AtomicFence',
  'Rethrow',
  'TableSize',
  'ElemDrop',
  'Pause',
];

/** Every expression kind this binaryen.js build knows, id → name, for the tables and messages. */
const KIND_NAMES = new Map<number, string>();
for (const key of Object.keys(binaryen)) {
  const match = /^_Binaryen(\w+)Id$/.exec(key);
  const idOf = (binaryen as unknown as Record<string, unknown>)[key];
  if (match?.[1] && match[1] !== 'Expression' && typeof idOf === 'function') {
    KIND_NAMES.set((idOf as () => number)(), match[1]);
  }
}

const READERS = new Map<number, readonly ChildReader[]>();
for (const [id, name] of KIND_NAMES) {
  const readers = CHILDREN[name] ?? (LEAVES.includes(name) ? [] : undefined);
  if (readers) READERS.set(id, readers);
}

/** The binaryen kind name of an expression id, e.g. "Loop". */
function kindName(id: number): string {
  return KIND_NAMES.get(id) ?? `expression kind ${id}`;
}

/** Children of `expr` in evaluation order; throws UnsupportedWasmError for kinds we cannot see into. */
export function childrenOf(expr: Expr): ChildSlot[] {
  const id = binaryen.getExpressionId(expr);
  const readers = READERS.get(id);
  if (!readers) throw new UnsupportedWasmError(`uses the instruction kind ${kindName(id)}`);
  const out: ChildSlot[] = [];
  for (const read of readers) read(expr, out);
  return out;
}

/** What `walkPostOrder` tells the visitor about a node once all its children were left. */
export interface LeftNode {
  readonly expr: Expr;
  readonly id: number;
  /** Where the node sits in its parent (or the caller's slot for the root). */
  readonly slot: ChildSlot;
  /** OR of the flags the visitor returned for the node's children. */
  readonly childFlag: boolean;
}

/**
 * Visits every expression under `root` after its children (post-order), iteratively so that deep
 * trees (a big switch lowers to thousands of nested blocks) cannot overflow the JS stack. The
 * visitor may replace the node through `slot`; the replacement is not visited. It returns a flag
 * that is OR-ed into the parent's `childFlag`.
 */
export function walkPostOrder(root: ChildSlot, leave: (node: LeftNode) => boolean): boolean {
  interface Frame {
    readonly slot: ChildSlot;
    readonly children: ChildSlot[];
    next: number;
    childFlag: boolean;
  }
  const open = (slot: ChildSlot): Frame => ({ slot, children: childrenOf(slot.child), next: 0, childFlag: false });
  const stack: Frame[] = [open(root)];
  let rootFlag = false;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const child = top.children[top.next++];
    if (child) {
      stack.push(open(child));
      continue;
    }
    stack.pop();
    const expr = top.slot.child;
    const flag = leave({ expr, id: binaryen.getExpressionId(expr), slot: top.slot, childFlag: top.childFlag });
    const parent = stack[stack.length - 1];
    if (parent) parent.childFlag ||= flag;
    else rootFlag = flag;
  }
  return rootFlag;
}
