// A real manager on a real listening socket for tests and benchmarks: temp store and data
// directory, the repository's guests, an empty images directory (QEMU requests boot the built
// default guest), port 0. close() stops everything and removes the files.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Manager } from '../service/manager.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { startServer } from './server.js';
import { readSse, type SseFrame } from './sse-client.js';

/** guests/bin of the repository, from src/service or dist/src/service alike. */
export const REPO_GUESTS = resolve(
  fileURLToPath(new URL('.', import.meta.url)),
  ...(import.meta.url.includes('/dist/') ? ['..', '..', '..'] : ['..', '..']),
  'guests',
  'bin',
);

export interface TestService {
  readonly url: string;
  readonly manager: Manager;
  readonly store: Store;
  readonly dir: string;
  close(): Promise<void>;
}

export async function startTestService(options: { token?: string; host?: string; concurrency?: number } = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-service-'));
  const store = openStore(join(dir, 'shadowvm.db'));
  const imagesDir = join(dir, 'images');
  mkdirSync(imagesDir);
  const manager = new Manager({
    store,
    dataDir: dir,
    guestsDir: REPO_GUESTS,
    imagesDir,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  try {
    const server = await startServer({
      manager,
      host: options.host ?? '127.0.0.1',
      port: 0,
      ...(options.token ? { token: options.token } : {}),
    });
    const url = server.url.replace('://0.0.0.0:', '://127.0.0.1:');
    return {
      url,
      manager,
      store,
      dir,
      close: async () => {
        await manager.close('test finished');
        await server.close();
        store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** JSON request helper: status and parsed body. */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a route answers
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text.length > 0 && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The frames of /events at `url` until the first `end` event (the stream must be one computation's). */
export async function framesUntilEnd(url: string, headers: Record<string, string> = {}): Promise<SseFrame[]> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const type = response.headers.get('content-type') ?? '';
  if (response.status !== 200 || !type.startsWith('text/event-stream') || !response.body) {
    throw new Error(`${url} answered ${response.status} ${type}, not an event stream`);
  }
  const frames: SseFrame[] = [];
  for await (const frame of readSse(response.body)) {
    frames.push(frame);
    if (frame.event === 'end') break;
  }
  controller.abort();
  return frames;
}
