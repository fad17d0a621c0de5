// Every error leaves the API as JSON { code, message } with a status that says whose fault it is.
// Codes are stable (clients switch on them); messages are one line for people.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isShadowvmError } from '../errors.js';

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  'bad-request': 400,
  'bad-guest': 400,
  'bad-image': 400,
  'policy-invalid': 400,
  'unknown-replica': 400,
  'capability-missing': 409,
  unauthorized: 401,
  'computation-not-found': 404,
  'not-found': 404,
  'not-running': 409,
  'manager-closed': 503,
};

export function statusOf(code: string): number {
  return STATUS_BY_CODE[code] ?? 400;
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (isShadowvmError(error)) {
    void reply.code(statusOf(error.code)).send({ code: error.code, message: error.message });
    return;
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's own refusals (malformed JSON, too large a body, unsupported media type).
    void reply.code(status).send({ code: 'bad-request', message: `${error.message}` });
    return;
  }
  request.log.error(error);
  void reply.code(500).send({ code: 'internal', message: 'internal error (a bug); the server log has the details' });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply
    .code(404)
    .send({ code: 'not-found', message: `no route ${request.method} ${request.url.split('?')[0]}; /openapi.json lists the routes` });
}
