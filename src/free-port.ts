// A TCP port on 127.0.0.1 that nobody listens on at this instant, for a server started right
// after (QEMU's host forward, a test's PostgreSQL). Another process may take it in between; the
// server then fails to bind and says so.
import { createServer } from 'node:net';

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port on 127.0.0.1')),
      );
    });
  });
}
