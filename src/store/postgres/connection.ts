// A synchronous PostgreSQL connection for the caller's thread: the pg client lives in a worker
// (worker.ts) and each call blocks until the worker answers (protocol in channel.ts). One request is in flight at a time, which is also what keeps a
// transaction's statements together on the one connection.

import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { z } from 'zod';
import { waitWhile } from '../../wait-while.js';
import type { SqlStatement, SqlValue } from '../rows/sql.js';
import { Flag, type PgFailure, type PgRequest, type PgResponse, type PgWorkerData, type Row } from './channel.js';
import { PostgresConnectError, PostgresQueryError, PostgresUnresponsiveError } from './errors.js';

/** Longest wait for one answer before the connection is given up on. */
export const DEFAULT_TIMEOUT_MS = 60_000;

// Rows are checked column by column by the repositories' row schemas; here only their outline.
const rowSchema = z.custom<Row>((value) => typeof value === 'object' && value !== null);

const responseSchema: z.ZodType<PgResponse> = z.union([
  z.object({ ok: z.literal(true), results: z.array(z.array(rowSchema)) }),
  z.object({ ok: z.literal(false), failure: z.object({ code: z.string().nullable(), message: z.string() }) }),
]);

export class PostgresConnection {
  private readonly signal: Int32Array;
  /** Set once a wait timed out: a late answer would pair with the wrong request. */
  private unusable = false;
  private closed = false;

  private constructor(
    /** The redacted URL, for messages. */
    readonly location: string,
    private readonly worker: Worker,
    private readonly port: MessagePort,
    flag: SharedArrayBuffer,
    private readonly timeoutMs: number,
  ) {
    this.signal = new Int32Array(flag);
  }

  /** Starts the worker and connects; throws PostgresConnectError when the server says no. */
  static open(url: string, location: string, timeoutMs = DEFAULT_TIMEOUT_MS): PostgresConnection {
    const { port1, port2 } = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    const data: PgWorkerData = { url, port: port2, flag };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, transferList: [port2] });
    // The connection must not keep the process alive: a caller that forgets close() still exits.
    worker.unref();
    port1.unref();
    // A worker that dies never answers: the pending call ends in PostgresUnresponsiveError, so the
    // 'error' event (delivered only after that) carries nothing left to act on.
    worker.on('error', () => undefined);
    const connection = new PostgresConnection(location, worker, port1, flag, timeoutMs);
    const answer = connection.request({ kind: 'connect' });
    if (!answer.ok) {
      connection.abandon();
      throw new PostgresConnectError(location, answer.failure);
    }
    return connection;
  }

  /** Runs one statement on its own and returns its rows. */
  query(sql: string, params: readonly SqlValue[] = []): Row[] {
    return this.run([{ sql, params }], false)[0] ?? [];
  }

  /** Runs the statements in one transaction, in one round trip; each statement's rows, in order. */
  transaction(statements: readonly SqlStatement[]): Row[][] {
    return this.run(statements, true);
  }

  close(): void {
    if (this.closed) return;
    if (!this.unusable) this.request({ kind: 'close' });
    this.abandon();
  }

  private run(statements: readonly SqlStatement[], transaction: boolean): Row[][] {
    const answer = this.request({ kind: 'run', statements, transaction });
    if (!answer.ok) throw new PostgresQueryError(this.location, answer.failure);
    return answer.results;
  }

  private request(request: PgRequest): PgResponse {
    if (this.closed || this.unusable) return { ok: false, failure: this.refusal() };
    Atomics.store(this.signal, 0, Flag.Waiting);
    this.port.postMessage(request);
    if (!waitWhile(this.signal, 0, Flag.Waiting, this.timeoutMs)) {
      this.unusable = true;
      this.abandon();
      throw new PostgresUnresponsiveError(this.location, this.timeoutMs);
    }
    const message = receiveMessageOnPort(this.port);
    return responseSchema.parse(message?.message);
  }

  private refusal(): PgFailure {
    return { code: null, message: this.closed ? 'the store is closed' : 'an earlier request timed out' };
  }

  private abandon(): void {
    this.closed = true;
    this.port.close();
    void this.worker.terminate();
  }
}
