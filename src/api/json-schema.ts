// zod → JSON Schema (2020-12, which OpenAPI 3.1 uses as is), for requests and responses alike.

import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

/** `io: 'input'` for what clients send (defaults make fields optional), 'output' for what they get. */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}
