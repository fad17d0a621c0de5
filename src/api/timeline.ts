// A computation's timeline as GET …/timeline serves it: the verdicts of the vote, the actions taken
// (each with its actor, cause and the VM acted on) and the events, merged in the order they
// happened. Each entry keeps its own table's record, tagged by `type`.

import type { EpochRange, Store, StoredAction, StoredEvent, StoredVerdict } from '../store/types.js';
import { inRange } from './views.js';

export type TimelineEntry =
  | (StoredVerdict & { readonly type: 'verdict' })
  | (StoredAction & { readonly type: 'action' })
  | (StoredEvent & { readonly type: 'event' });

/**
 * Oldest first. On the same millisecond the order is that of cause and effect: a verdict is logged
 * with its epoch, the events of a recovery as it goes, and its action once it is done.
 */
export function timeline(store: Store, computationId: string, range: EpochRange): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    ...store.difflog.readVerdicts(computationId, range).map((verdict) => ({ type: 'verdict' as const, ...verdict })),
    ...store.audit.listEvents(computationId).map((event) => ({ type: 'event' as const, ...event })),
    ...store.audit.listActions(computationId).map((action) => ({ type: 'action' as const, ...action })),
  ];
  return entries.filter((entry) => inRange(entry.epoch, range)).sort((a, b) => a.at - b.at);
}
