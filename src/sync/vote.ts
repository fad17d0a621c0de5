// Which replica diverged: the primary and its shadows vote with their state at one epoch.

export type Verdict =
  | { readonly kind: 'agree' }
  /** The primary is with a strict majority; these shadows differ from it. */
  | { readonly kind: 'shadows-diverged'; readonly faulty: readonly string[] }
  /** A strict majority of shadows agree on a state that is not the primary's. */
  | { readonly kind: 'primary-diverged'; readonly faulty: readonly string[] }
  /** No strict majority (e.g. one shadow): the divergence cannot be attributed. */
  | { readonly kind: 'unattributed'; readonly differing: readonly string[] };

/**
 * `keys` maps each replica id to a key of its state (equal keys = same state), the primary's id
 * being `primaryId`. Replicas that gave no state (ended early, diverged on an input) vote alone.
 */
export function vote(primaryId: string, keys: ReadonlyMap<string, string | undefined>): Verdict {
  const primaryKey = keys.get(primaryId);
  const groups = new Map<string, string[]>();
  let loneIndex = 0;
  for (const [id, key] of keys) {
    const group = key ?? `\u0000lone${loneIndex++}`;
    groups.set(group, [...(groups.get(group) ?? []), id]);
  }
  const others = [...keys.keys()].filter((id) => id !== primaryId);
  if (groups.size === 1 && primaryKey !== undefined) return { kind: 'agree' };
  const total = keys.size;
  const largest = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0];
  const majority = largest && largest[1].length * 2 > total ? largest : undefined;
  if (!majority) {
    const differing = others.filter((id) => primaryKey === undefined || keys.get(id) !== primaryKey);
    return { kind: 'unattributed', differing: primaryKey === undefined ? [primaryId, ...differing] : differing };
  }
  const [, members] = majority;
  if (members.includes(primaryId)) {
    return { kind: 'shadows-diverged', faulty: others.filter((id) => !members.includes(id)) };
  }
  return { kind: 'primary-diverged', faulty: [primaryId, ...others.filter((id) => !members.includes(id))] };
}
