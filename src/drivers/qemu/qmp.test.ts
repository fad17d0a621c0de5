// The QMP client against a scripted unix-socket server speaking the QMP wire format.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { QmpClosedError, QmpCommandError, QmpTimeoutError } from './errors.js';
import { QmpClient } from './qmp.js';

/** A unix-socket server at a fresh path; `onConnection` scripts each connection. */
async function withServer(onConnection: (socket: Socket) => void, body: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-qmp-'));
  const path = join(dir, 'qmp.sock');
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    await body(path);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const greeting = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n';

/** Greets, answers qmp_capabilities (after a line that is not QMP), and nothing else. */
function greetThenSilence(socket: Socket): void {
  socket.write(greeting);
  socket.on('data', (chunk) => {
    for (const line of chunk
      .toString()
      .split('\n')
      .filter((l) => l.trim() !== '')) {
      const { execute, id } = JSON.parse(line) as { execute: string; id: string };
      if (execute === 'qmp_capabilities') socket.write(`not json\r\n{"unexpected": 1}\r\n{"return": {}, "id": "${id}"}\r\n`);
    }
  });
}

test('greeting, commands with ids, errors, events, timeouts and close', async () => {
  await withServer(
    (socket) => {
      socket.write(greeting);
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
          const { execute, id } = JSON.parse(text.slice(0, nl)) as { execute: string; id: string };
          text = text.slice(nl + 1);
          if (execute === 'qmp_capabilities') socket.write(`{"return": {}, "id": "${id}"}\r\n`);
          if (execute === 'query-status') socket.write(`{"return": {"status": "paused", "running": false}, "id": "${id}"}\r\n`);
          if (execute === 'bogus') socket.write(`{"error": {"class": "CommandNotFound", "desc": "nope"}, "id": "${id}"}\r\n`);
          if (execute === 'cont') {
            socket.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n');
            socket.write(`{"return": {}, "id": "${id}"}\r\n`);
          }
        }
      });
    },
    async (path) => {
      const qmp = await QmpClient.connect(path);
      assert.equal(qmp.qemuVersion, '7.2.22');
      assert.deepEqual(await qmp.execute('query-status'), { status: 'paused', running: false });
      await assert.rejects(
        qmp.execute('bogus'),
        (error: unknown) => error instanceof QmpCommandError && error.errorClass === 'CommandNotFound',
      );
      const resumed = qmp.waitEvent('RESUME', 5000);
      await qmp.execute('cont');
      assert.equal((await resumed).event, 'RESUME');
      await assert.rejects(qmp.execute('silent', undefined, 50), QmpTimeoutError);
      const pending = qmp.execute('silent');
      qmp.close();
      await assert.rejects(pending, QmpClosedError);
    },
  );
});

test('no request outlives its QEMU: commands and event waits fail when the socket closes', async () => {
  let server: Socket | undefined;
  await withServer(
    (socket) => {
      server = socket;
      greetThenSilence(socket);
    },
    async (path) => {
      const qmp = await QmpClient.connect(path);
      const command = qmp.execute('query-status');
      const event = qmp.waitEvent('STOP', 24 * 3600_000);
      server?.destroy();
      await assert.rejects(command, QmpClosedError);
      await assert.rejects(event, QmpClosedError);
      await assert.rejects(qmp.execute('cont'), QmpClosedError);
      await assert.rejects(qmp.waitEvent('RESUME', 1000), QmpClosedError);
    },
  );
});

test('a connection QEMU never greets ends at its deadline, or at once when its QEMU is gone', async () => {
  await withServer(
    () => undefined,
    async (path) => {
      await assert.rejects(QmpClient.connect(path, { connectTimeoutMs: 200 }), QmpTimeoutError);
      const gone = new AbortController();
      const started = performance.now();
      setTimeout(() => gone.abort(), 50);
      await assert.rejects(QmpClient.connect(path, { signal: gone.signal }), QmpClosedError);
      assert.ok(performance.now() - started < 2000, 'the attempt ended with its QEMU, not at the 10 s deadline');
    },
  );
  const gone = new AbortController();
  setTimeout(() => gone.abort(), 50);
  const started = performance.now();
  await assert.rejects(QmpClient.connect(join(tmpdir(), 'shadowvm-qmp-none', 'qmp.sock'), { signal: gone.signal }), QmpClosedError);
  assert.ok(performance.now() - started < 2000, 'retries for a socket that never comes end with its QEMU');
});
