// The JSON routes: each entry of ROUTES (src/api/schemas.ts) gets its handler here. Handlers see
// already-validated, typed input; whatever they throw is answered by src/api/errors.ts.

import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { readLog } from '../computation/log-view.js';
import type { Manager } from '../service/manager.js';
import { toJsonSchema } from './json-schema.js';
import { ROUTES, type RouteId, type RouteSpec } from './schemas.js';
import { timeline } from './timeline.js';
import { registerSchema, zodValidatorCompiler } from './validation.js';
import {
  checkpointsView,
  computationView,
  inRange,
  policyFrom,
  policyView,
  requireComputation,
  startRequestFrom,
  vmsView,
} from './views.js';

type Part<S, K extends keyof RouteSpec> = S extends { readonly [P in K]: infer T extends z.ZodType } ? z.output<T> : undefined;

type Input<Id extends RouteId> = {
  readonly params: Part<(typeof ROUTES)[Id], 'params'>;
  readonly query: Part<(typeof ROUTES)[Id], 'query'>;
  readonly body: Part<(typeof ROUTES)[Id], 'body'>;
};

type Handlers = { readonly [Id in RouteId]: (input: Input<Id>) => unknown };

function handlers(manager: Manager): Handlers {
  const { store } = manager;
  return {
    createComputation: ({ body }) => {
      const eventId = manager.bus.lastId();
      const row = manager.submit(startRequestFrom(body));
      return { computation: computationView(manager, row), eventId };
    },
    listComputations: ({ query }) => ({
      items: store.computations
        .list({ ...(query.status ? { status: query.status } : {}), limit: query.limit, offset: query.offset })
        .map((row) => computationView(manager, row)),
      counts: manager.counts(),
      concurrency: manager.concurrency,
    }),
    getComputation: ({ params }) => computationView(manager, requireComputation(store, params.id)),
    cancelComputation: async ({ params, body }) => {
      requireComputation(store, params.id);
      await manager.cancel(params.id, body.reason);
      return { ok: true };
    },
    listVms: ({ params }) => ({ items: vmsView(manager, params.id) }),
    readLog: ({ params, query }) => readLog(store, params.id, query),
    listCheckpoints: ({ params }) => ({ items: checkpointsView(store, params.id) }),
    listPredictions: ({ params, query }) => {
      requireComputation(store, params.id);
      return { items: store.audit.listPredictions(params.id, query) };
    },
    listVerdicts: ({ params, query }) => {
      requireComputation(store, params.id);
      return { items: store.difflog.readVerdicts(params.id, query) };
    },
    listActions: ({ params, query }) => {
      requireComputation(store, params.id);
      return { items: store.audit.listActions(params.id).filter((action) => inRange(action.epoch, query)) };
    },
    listAlerts: ({ params, query }) => {
      requireComputation(store, params.id);
      return { items: store.audit.listAlerts(params.id).filter((alert) => inRange(alert.epoch, query)) };
    },
    readTimeline: ({ params, query }) => {
      requireComputation(store, params.id);
      return { items: timeline(store, params.id, query) };
    },
    requestRollback: ({ params, body }) => {
      requireComputation(store, params.id);
      manager.rollback(params.id, body.reason);
      return { ok: true };
    },
    injectFault: ({ params, body }) => {
      requireComputation(store, params.id);
      return { target: body.target, fault: manager.inject(params.id, body.target, body.fault) };
    },
    getPolicy: ({ params }) => {
      requireComputation(store, params.id);
      return policyView(manager, params.id);
    },
    setPolicy: ({ params, body }) => {
      requireComputation(store, params.id);
      manager.setPolicy(params.id, policyFrom(body.policy));
      return policyView(manager, params.id);
    },
  };
}

/** Registers every JSON route of the API on `app`. */
export function registerRoutes(app: FastifyInstance, manager: Manager): void {
  const table = handlers(manager) as Record<RouteId, (input: { params: unknown; query: unknown; body: unknown }) => unknown>;
  app.setValidatorCompiler(zodValidatorCompiler);
  for (const [id, spec] of Object.entries(ROUTES) as [RouteId, RouteSpec][]) {
    const schema: Record<string, unknown> = {};
    if (spec.params) schema.params = registerSchema(toJsonSchema(spec.params, 'input'), spec.params);
    if (spec.query) schema.querystring = registerSchema(toJsonSchema(spec.query, 'input'), spec.query);
    if (spec.body) schema.body = registerSchema(toJsonSchema(spec.body, 'input'), spec.body);
    const handler = table[id];
    app.route({
      method: spec.method,
      url: spec.url,
      schema,
      handler: async (request, reply) => {
        const result = await handler({ params: request.params, query: request.query, body: request.body });
        return reply.code(spec.status).send(result);
      },
    });
  }
}
