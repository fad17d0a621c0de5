// The static call graph facts that decide where counters go: which functions can recurse (they
// count at entry), and which never touch the budget (calls to them need no sync).

/** caller → callees, over the module's defined functions (imports never call back). */
export type CallGraph = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * Strongly connected components, callees before callers (Tarjan emits them in that order).
 * Iterative, so a long call chain cannot overflow the JS stack. Callees missing from the graph's
 * keys (imports) are ignored.
 */
export function stronglyConnected(graph: CallGraph): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const low = (node: string): number => lowLink.get(node)!;

  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; callees: Iterator<string> }[] = [];
    const enter = (node: string): void => {
      index.set(node, counter);
      lowLink.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, callees: graph.get(node)!.values() });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const next = frame.callees.next();
      if (!next.done) {
        const callee = next.value;
        if (!graph.has(callee)) continue;
        if (!index.has(callee)) enter(callee);
        else if (onStack.has(callee)) lowLink.set(frame.node, Math.min(low(frame.node), index.get(callee)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) lowLink.set(parent.node, Math.min(low(parent.node), low(frame.node)));
      if (low(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      components.push(component);
    }
  }
  return components;
}

/**
 * Functions that can be re-entered before they return: members of a component with more than
 * one function, and functions that call themselves.
 */
export function recursiveFunctions(graph: CallGraph, components = stronglyConnected(graph)): Set<string> {
  const result = new Set<string>();
  for (const component of components) {
    const [only] = component;
    if (component.length > 1 || (only !== undefined && graph.get(only)!.has(only))) {
      for (const name of component) result.add(name);
    }
  }
  return result;
}

/**
 * Functions whose whole call tree never reads or writes the budget: `isLocallyNeutral` holds for
 * them (no loop, no import call, no indirect call, not recursive) and for everything they call.
 */
export function budgetNeutralFunctions(
  graph: CallGraph,
  isLocallyNeutral: (name: string) => boolean,
  components = stronglyConnected(graph),
): Set<string> {
  const neutral = new Set<string>();
  for (const component of components) {
    if (component.length !== 1) continue; // a cycle recurses, so it counts
    const name = component[0]!;
    if (!isLocallyNeutral(name)) continue;
    if ([...graph.get(name)!].every((callee) => neutral.has(callee))) neutral.add(name);
  }
  return neutral;
}
