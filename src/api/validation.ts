// Fastify validates requests with the zod schemas of src/api/schemas.ts. The route carries the
// JSON Schema (for the OpenAPI document and Fastify's bookkeeping); this compiler finds the zod
// schema it came from and runs that, so a bad request is answered in our words, naming the field.

import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { ShadowvmError } from '../errors.js';

/** A request part that does not match its schema: 400, naming the first offending field. */
export class RequestValidationError extends ShadowvmError {
  readonly statusCode = 400;
  constructor(part: string, issues: readonly z.core.$ZodIssue[]) {
    const first = issues[0];
    const where = [part, ...(first?.path ?? []).map(String)].join('.');
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    super('bad-request', `${where}: ${first?.message ?? 'is not valid'}${more}`);
  }
}

const zodOf = new WeakMap<object, z.ZodType>();

/** The JSON Schema Fastify gets for a zod schema, remembered so the compiler can find the zod one. */
export function registerSchema(json: Record<string, unknown>, schema: z.ZodType): Record<string, unknown> {
  zodOf.set(json, schema);
  return json;
}

export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const zod = zodOf.get(schema as object);
  if (!zod) throw new Error(`no zod schema registered for a route's ${httpPart ?? 'request'} schema`);
  const part = httpPart === 'querystring' ? 'query' : (httpPart ?? 'request');
  return (data: unknown) => {
    // Fastify hands an absent body over as null; the schema's default should apply instead.
    const result = zod.safeParse(data === null ? undefined : data);
    return result.success ? { value: result.data } : { error: new RequestValidationError(part, result.error.issues) };
  };
};
