// The QMP client against a scripted unix-socket server speaking the QMP wire format.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { QmpClosedError, QmpCommandError, QmpTimeoutError } from './errors.js';
import { QmpClient } from './qmp.js';

test('greeting, commands with ids, errors, events, timeouts and close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-qmp-'));
  const path = join(dir, 'qmp.sock');
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.write('{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n');
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
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
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
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});
