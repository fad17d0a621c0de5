// GET /events: the manager's event bus as Server-Sent Events. A client that reconnects with
// Last-Event-ID (header, or ?lastEventId= for clients that cannot set headers) first gets what it
// missed from the ring, then the live stream; if the ring no longer holds all of it, a `reset`
// event tells it to re-read state through the REST routes.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServiceEvent } from '../service/event-bus.js';
import type { Manager } from '../service/manager.js';
import { toJsonSchema } from './json-schema.js';
import { registerSchema } from './validation.js';

const EventsQuery = z.strictObject({
  computation: z.string().optional().describe('only events of this computation'),
  lastEventId: z.coerce.number().int().min(0).optional(),
  access_token: z.string().optional().describe('bearer token, for EventSource clients that cannot send headers'),
});

const HEARTBEAT_MS = 15_000;

function frame(event: ServiceEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify({ computationId: event.computationId, at: event.at, ...event.data })}\n\n`;
}

export function registerEvents(app: FastifyInstance, manager: Manager): void {
  app.get('/events', { schema: { querystring: registerSchema(toJsonSchema(EventsQuery, 'input'), EventsQuery) } }, (request, reply) => {
    const query = request.query as z.output<typeof EventsQuery>;
    const header = request.headers['last-event-id'];
    const headerId = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined;
    const lastId = headerId ?? query.lastEventId;
    const wanted = (event: ServiceEvent) => query.computation === undefined || event.computationId === query.computation;
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    out.write(`retry: 1000\n: shadowvm events, last id ${manager.bus.lastId()}\n\n`);
    if (lastId !== undefined) {
      const { events, complete } = manager.bus.since(lastId);
      if (!complete) out.write(`event: reset\ndata: {"reason":"events after ${lastId} are no longer kept; re-read state"}\n\n`);
      for (const event of events) if (wanted(event)) out.write(frame(event));
    }
    const unsubscribe = manager.bus.subscribe((event) => {
      if (wanted(event)) out.write(frame(event));
    });
    const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), HEARTBEAT_MS);
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
}
