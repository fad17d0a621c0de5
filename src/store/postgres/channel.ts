// The request/response protocol between the PostgreSQL store (on the caller's thread) and the
// worker that owns the `pg` connection. The caller posts a request on a MessagePort, then blocks
// in Atomics.wait on a shared flag; the worker posts the response and raises the flag; the caller
// takes the response with receiveMessageOnPort. Values cross by structured clone, so rows and
// byte arrays need no hand-made encoding and have no size limit.

import type { MessagePort } from 'node:worker_threads';
import type { SqlStatement } from '../rows/sql.js';

export type Row = Readonly<Record<string, unknown>>;

export type PgRequest =
  | { readonly kind: 'connect' }
  /** Runs the statements in order; in one transaction when `transaction` is set. */
  | { readonly kind: 'run'; readonly statements: readonly SqlStatement[]; readonly transaction: boolean }
  | { readonly kind: 'close' };

/** What went wrong, in the terms of the pg error (SQLSTATE) or of Node (ECONNREFUSED…). */
export interface PgFailure {
  readonly code: string | null;
  readonly message: string;
}

/** Each statement's rows, in the order the statements were given. */
export type PgResponse = { readonly ok: true; readonly results: Row[][] } | { readonly ok: false; readonly failure: PgFailure };

export interface PgWorkerData {
  readonly url: string;
  readonly port: MessagePort;
  /** Int32[1]: Flag.Waiting while a request is pending, Flag.Answered once its response is posted. */
  readonly flag: SharedArrayBuffer;
}

export const Flag = { Waiting: 0, Answered: 1 } as const;
