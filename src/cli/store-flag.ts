// The --store flag shared by the commands that read or write computations: a postgres:// (or
// postgresql://) URL opens the PostgreSQL store, anything else is a SQLite file path.

import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';

export const STORE_OPTION = { store: { type: 'string' } } as const;

/** Opens the store named by --store, else $SHADOWVM_STORE, else the embedded default. */
export function openStoreFromFlag(flag: string | undefined): Store {
  return openStore(flag ?? process.env.SHADOWVM_STORE);
}
