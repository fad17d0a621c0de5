// `shadowvm serve`: the manager as a long-lived service (REST API, live events, metrics and the
// dashboard) running many computations at once. Stops cleanly on SIGINT/SIGTERM; after a crash
// the next start marks what was left running as interrupted.

import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startServer } from '../../api/server.js';
import { defaultGuestDir } from '../../drivers/guest-image.js';
import { Manager } from '../../service/manager.js';
import { parseCommandFlags, parseCount } from '../parse.js';
import { openStoreFromFlag } from '../store-flag.js';

export const SERVE_USAGE = `usage: shadowvm serve [--host H] [--port P] [--data DIR] [--token T] [--store PATH] [--guests DIR] [--images DIR] [--concurrency N]
  --host H          address to listen on (default 127.0.0.1; any other needs --token)
  --port P          port (default 7420; 0 picks a free one)
  --data DIR        the manager's directory (default .shadowvm); the database is DIR/shadowvm.db
  --token T         bearer token clients must send (default $SHADOWVM_TOKEN)
  --store PATH      database instead of DIR/shadowvm.db
  --guests DIR      directory requests name wasm guests in (default guests/bin)
  --images DIR      directory requests name QEMU guest images in (default ${dirname(defaultGuestDir)});
                    a QEMU request naming none boots the built default guest (${defaultGuestDir})
  --concurrency N   computations running at once; the rest queue (default ${2 * availableParallelism()})`;

export const DEFAULT_PORT = 7420;

export async function serveCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandFlags('serve', argv, {
    host: { type: 'string' },
    port: { type: 'string' },
    data: { type: 'string' },
    token: { type: 'string' },
    store: { type: 'string' },
    guests: { type: 'string' },
    images: { type: 'string' },
    concurrency: { type: 'string' },
  });
  const dataDir = resolve(values.data ?? '.shadowvm');
  const token = values.token ?? process.env.SHADOWVM_TOKEN;
  const port = values.port !== undefined ? parseCount('--port', values.port) : DEFAULT_PORT;
  const store = openStoreFromFlag(values.store ?? process.env.SHADOWVM_STORE ?? join(dataDir, 'shadowvm.db'));
  const manager = new Manager({
    store,
    dataDir,
    guestsDir: resolve(values.guests ?? 'guests/bin'),
    ...(values.images !== undefined ? { imagesDir: resolve(values.images) } : {}),
    ...(values.concurrency !== undefined ? { concurrency: parseCount('--concurrency', values.concurrency, 1) } : {}),
    writeLine: (line) => process.stderr.write(`${line}\n`),
  });
  for (const { id, epoch } of manager.recovered)
    process.stderr.write(`shadowvm: ${id} was interrupted at epoch ${epoch} by a manager restart; marked failed\n`);
  const server = await startServer({ manager, host: values.host ?? '127.0.0.1', port, ...(token ? { token } : {}) }).catch(
    (error: unknown) => {
      store.close();
      throw error;
    },
  );
  process.stderr.write(
    `shadowvm: manager listening on ${server.url} (store ${store.location}, ${manager.concurrency} computations at once)\n`,
  );
  const running = server;
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stderr.write('shadowvm: stopping: cancelling running computations\n');
  await manager.close('the manager was stopped');
  await running.close();
  store.close();
  return 0;
}
