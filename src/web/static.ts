// The dashboard's files: HTML/CSS/JS modules from src/web (served as written, no bundler) and
// uPlot from node_modules. Only names on the list are served, so no request reaches other files.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Files of the dashboard, by URL path. */
const ASSETS = ['index.html', 'app.css', 'app.js', 'api.js', 'charts.js', 'panels.js'] as const;

/** src/web, whether this module runs from src (tests of the source) or from dist/src/web. */
function webDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromDist = join(here, '..', '..', '..', 'src', 'web');
  return existsSync(join(here, 'index.html')) ? here : fromDist;
}

function uplotDir(): string {
  return dirname(createRequire(import.meta.url).resolve('uplot'));
}

function typeOf(name: string): string {
  return TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
}

export function registerDashboard(app: FastifyInstance): void {
  const dir = webDir();
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ASSETS) files.set(`/ui/${name}`, { body: readFileSync(join(dir, name)), type: typeOf(name) });
  files.set('/vendor/uPlot.esm.js', { body: readFileSync(join(uplotDir(), 'uPlot.esm.js')), type: typeOf('.js') });
  files.set('/vendor/uPlot.min.css', { body: readFileSync(join(uplotDir(), 'uPlot.min.css')), type: typeOf('.css') });
  const index = files.get('/ui/index.html') as { body: Buffer; type: string };
  app.get('/', (_request, reply) => reply.type(index.type).header('cache-control', 'no-cache').send(index.body));
  for (const [path, file] of files) {
    app.get(path, (_request, reply) => reply.type(file.type).header('cache-control', 'no-cache').send(file.body));
  }
}

/** Paths a browser loads before it can present a token (they hold no data). */
export function isPublicPath(path: string): boolean {
  return path === '/' || path.startsWith('/ui/') || path.startsWith('/vendor/') || path === '/favicon.ico';
}
