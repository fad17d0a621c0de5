// A small typed QMP client over a unix socket: greeting, capability negotiation, commands with
// ids and timeouts, events, and a clean close. No npm QMP library fits (ESM, typed, maintained).
import { connect, type Socket } from 'node:net';
import { z } from 'zod';
import { QmpClosedError, QmpCommandError, QmpTimeoutError } from './errors.js';

const greetingSchema = z.object({
  QMP: z.object({
    version: z.object({ qemu: z.object({ major: z.number(), minor: z.number(), micro: z.number() }) }),
  }),
});

const messageSchema = z.union([
  z.object({ return: z.unknown(), id: z.string().optional() }),
  z.object({ error: z.object({ class: z.string(), desc: z.string() }), id: z.string().optional() }),
  z.object({ event: z.string(), data: z.record(z.string(), z.unknown()).optional() }),
]);

export interface QmpEvent {
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
}

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Waiter {
  readonly name: string;
  readonly match: (event: QmpEvent) => boolean;
  resolve(event: QmpEvent): void;
  reject(error: Error): void;
}

export interface QmpConnectOptions {
  /** How long to keep retrying while QEMU creates its socket, and to wait for its greeting. */
  readonly connectTimeoutMs?: number;
  /** Default timeout of `execute`. */
  readonly commandTimeoutMs?: number;
  /** Aborted when the QEMU connected to is gone: the connection attempt ends at once. */
  readonly signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class QmpClient {
  readonly qemuVersion: string;
  private readonly socket: Socket;
  private readonly pending = new Map<string, Pending>();
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private readonly commandTimeoutMs: number;
  private nextId = 0;
  private closed = false;

  private constructor(socket: Socket, qemuVersion: string, commandTimeoutMs: number) {
    this.socket = socket;
    this.qemuVersion = qemuVersion;
    this.commandTimeoutMs = commandTimeoutMs;
  }

  /** Connects (retrying until the socket exists), reads the greeting, enters command mode. */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    const deadline = Date.now() + connectTimeoutMs;
    const timeout = () => new QmpTimeoutError(`the QMP connection on ${path}`, connectTimeoutMs);
    for (;;) {
      if (options.signal?.aborted) throw new QmpClosedError('the QMP greeting');
      let opened: Socket | undefined;
      try {
        const { socket, firstLine, rest } = await openSocket(path, deadline, timeout, options.signal);
        opened = socket;
        const greeting = greetingSchema.parse(JSON.parse(firstLine));
        const v = greeting.QMP.version.qemu;
        const client = new QmpClient(socket, `${v.major}.${v.minor}.${v.micro}`, options.commandTimeoutMs ?? 30_000);
        client.listen(rest);
        await client.execute('qmp_capabilities');
        return client;
      } catch (error) {
        // A connection that failed after it opened is not left open.
        opened?.destroy();
        const code = (error as NodeJS.ErrnoException).code;
        const retryable = code === 'ENOENT' || code === 'ECONNREFUSED';
        if (!retryable) throw error;
        if (Date.now() > deadline) throw timeout();
        await sleep(20);
      }
    }
  }

  /** Runs a command; resolves with its `return` value, rejects with QmpCommandError. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = this.commandTimeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new QmpClosedError(command));
    const id = `c${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, {
        command,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Runs an HMP command line through QMP and returns its text output. */
  hmp(commandLine: string, timeoutMs?: number): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, timeoutMs);
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe function. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves with the next event named `name` (and matching `match`). Register the wait BEFORE
   * sending the command that causes the event, or the event may be missed.
   */
  waitEvent(name: string, timeoutMs: number, match: (event: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    if (this.closed) return Promise.reject(new QmpClosedError(`event ${name}`));
    return new Promise<QmpEvent>((resolve, reject) => {
      const waiter: Waiter = {
        name,
        match,
        resolve: (event) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(event);
        },
        reject: (error) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.reject(new QmpTimeoutError(`event ${name}`, timeoutMs)), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Closes the connection; pending commands and waits fail with QmpClosedError. */
  close(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.fail();
  }

  private listen(initial: string): void {
    let buffered = initial;
    const consume = () => {
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line.length > 0) this.dispatch(line);
        newline = buffered.indexOf('\n');
      }
    };
    this.socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      consume();
    });
    this.socket.on('close', () => this.fail());
    this.socket.on('error', () => this.fail());
    consume();
  }

  private dispatch(line: string): void {
    // A line that is not QMP must not throw out of the socket handler (it would end the manager);
    // a command it should have answered times out instead.
    const parsed = messageSchema.safeParse(parseJson(line));
    if (!parsed.success) return;
    const message = parsed.data;
    if ('event' in message) {
      const event: QmpEvent = { event: message.event, data: message.data ?? {} };
      for (const listener of this.listeners) listener(event);
      for (const waiter of [...this.waiters]) {
        if (waiter.name === event.event && waiter.match(event)) waiter.resolve(event);
      }
      return;
    }
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (pending === undefined || message.id === undefined) return;
    this.pending.delete(message.id);
    if ('error' in message) pending.reject(new QmpCommandError(pending.command, message.error.class, message.error.desc));
    else pending.resolve(message.return);
  }

  private fail(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.pending.values()) pending.reject(new QmpClosedError(pending.command));
    this.pending.clear();
    for (const waiter of [...this.waiters]) waiter.reject(new QmpClosedError(`event ${waiter.name}`));
  }
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Opens the socket and reads up to the greeting's newline (what follows is kept). A QEMU that
 * accepts and never greets (hung, or killed meanwhile) fails the attempt by the deadline, or at
 * once when `signal` is aborted.
 */
function openSocket(
  path: string,
  deadline: number,
  timeout: () => Error,
  signal: AbortSignal | undefined,
): Promise<{ socket: Socket; firstLine: string; rest: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (error: Error) => {
      settle();
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      settle();
      resolve({ socket, firstLine: text.slice(0, newline), rest: text.slice(newline + 1) });
    };
    const onError = (error: Error) => fail(error);
    const onClose = () => fail(Object.assign(new Error('closed before greeting'), { code: 'ECONNREFUSED' }));
    const onAbort = () => fail(new QmpClosedError('the QMP greeting'));
    const timer = setTimeout(() => fail(timeout()), Math.max(0, deadline - Date.now()));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
