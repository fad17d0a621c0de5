// The manager's HTTP face: REST API, SSE, metrics, OpenAPI document and dashboard on one Fastify
// instance. Loopback by default; any other address needs a bearer token, checked on every request
// except the dashboard's static files.

import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { TokenRequiredError, UnauthorizedError } from '../service/errors.js';
import type { Manager } from '../service/manager.js';
import { serviceMetrics } from '../service/metrics.js';
import { isPublicPath, registerDashboard } from '../web/static.js';
import { bearerToken, isLoopback, tokenMatches } from './auth.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { openApiDocument } from './openapi.js';
import { registerRoutes } from './routes.js';
import { registerEvents } from './sse.js';

export interface ServerOptions {
  readonly manager: Manager;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly token?: string;
  readonly logger?: boolean;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  /** http://host:port of the listening socket. */
  readonly url: string;
  close(): Promise<void>;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

export function buildApp(options: Pick<ServerOptions, 'manager' | 'token' | 'logger'>): FastifyInstance {
  const { manager, token } = options;
  // SSE streams never go idle: without forcing, close() would wait for every dashboard to leave.
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 80 * 2 ** 20, forceCloseConnections: true });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  if (token !== undefined) {
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      if (isPublicPath(path)) return;
      const query = request.query as { access_token?: unknown } | undefined;
      const fromQuery = path === '/events' && typeof query?.access_token === 'string' ? query.access_token : undefined;
      if (!tokenMatches(token, bearerToken(request.headers.authorization) ?? fromQuery)) throw new UnauthorizedError();
    });
  }
  const metrics = serviceMetrics(manager);
  app.addHook('onClose', async () => metrics.close());
  const document = openApiDocument(version());
  app.get('/openapi.json', (_request, reply) => reply.send(document));
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  registerRoutes(app, manager);
  registerEvents(app, manager);
  registerDashboard(app);
  return app;
}

/** Listens, refusing an address beyond loopback without a token. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.token) throw new TokenRequiredError(host);
  const app = buildApp(options);
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return { app, url: `http://${shown}:${port}`, close: () => app.close() };
}
