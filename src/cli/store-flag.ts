// The --store flag shared by the commands that read or write computations.

import { DEFAULT_DB_PATH, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/types.js';

export const STORE_OPTION = { store: { type: 'string' } } as const;

/** Opens the store named by --store, else $SHADOWVM_STORE, else the embedded default. */
export function openStoreFromFlag(flag: string | undefined): Store {
  return openSqliteStore({ path: flag ?? process.env.SHADOWVM_STORE ?? DEFAULT_DB_PATH });
}
