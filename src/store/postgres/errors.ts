// Errors of the PostgreSQL store. Each names the server by its redacted URL and says what to do.

import { ShadowvmError } from '../../errors.js';
import { referenceGuard } from '../rows/references.js';
import type { PgFailure } from './channel.js';

/** SQLSTATE codes the store reacts to (PostgreSQL manual, appendix A). */
export const SqlState = {
  foreignKeyViolation: '23503',
  uniqueViolation: '23505',
  invalidAuthorization: '28000',
  invalidPassword: '28P01',
  invalidCatalogName: '3D000',
} as const;

/** Why a connection failed, as far as the user's fix is concerned. */
export type ConnectFailure = 'refused' | 'unknown-host' | 'auth' | 'no-database' | 'other';

export function classifyConnectFailure(failure: PgFailure): ConnectFailure {
  switch (failure.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown-host';
    case SqlState.invalidPassword:
    case SqlState.invalidAuthorization:
      return 'auth';
    case SqlState.invalidCatalogName:
      return 'no-database';
    default:
      return 'other';
  }
}

const CONNECT_FIX: Record<ConnectFailure, (failure: PgFailure) => string> = {
  refused: () => 'connection refused; start the server or fix the host and port in the URL',
  'unknown-host': () => 'the host name does not resolve; fix the host in the URL',
  auth: () => "authentication failed; check the user and password in the URL (or the server's pg_hba.conf)",
  'no-database': (f) => `${f.message}; create it with createdb or fix the database name in the URL`,
  other: (f) => `${f.message}; check that the server is running and the URL is right`,
};

/** The server cannot be reached, refuses the login, or has no such database. */
export class PostgresConnectError extends ShadowvmError {
  readonly failure: ConnectFailure;

  constructor(location: string, failure: PgFailure) {
    const kind = classifyConnectFailure(failure);
    super(`postgres-${kind === 'other' ? 'connect' : kind}`, `cannot connect to PostgreSQL at ${location}: ${CONNECT_FIX[kind](failure)}`);
    this.failure = kind;
  }
}

/** A statement failed on the server (or the connection broke while it ran). */
export class PostgresQueryError extends ShadowvmError {
  /** The SQLSTATE, or a Node error code such as ECONNRESET, when known. */
  readonly sqlstate: string | null;

  constructor(location: string, failure: PgFailure) {
    super('postgres-query', `PostgreSQL at ${location} failed a statement: ${failure.message}; check the server's log`);
    this.sqlstate = failure.code;
  }
}

/** The worker holding the connection gave no answer in time; the store cannot be used further. */
export class PostgresUnresponsiveError extends ShadowvmError {
  constructor(location: string, timeoutMs: number) {
    super(
      'postgres-unresponsive',
      `PostgreSQL at ${location} gave no answer within ${timeoutMs} ms; check the server and the network, then retry`,
    );
  }
}

export const withReference = referenceGuard(
  (error) => error instanceof PostgresQueryError && error.sqlstate === SqlState.foreignKeyViolation,
);
