// The OpenAPI 3.1 document, built from the route table: what /openapi.json serves.

import { type JsonSchema, toJsonSchema } from './json-schema.js';
import { ErrorSchema, EXTRA_PATHS, ROUTES, type RouteSpec } from './schemas.js';

function parameters(where: 'path' | 'query', schema: RouteSpec['params']): JsonSchema[] {
  if (!schema) return [];
  const json = toJsonSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
}

function errorResponse(description: string): JsonSchema {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

export function openApiDocument(version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const [operationId, spec] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    const path = spec.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const operation: JsonSchema = {
      operationId,
      summary: spec.summary,
      parameters: [...parameters('path', spec.params), ...parameters('query', spec.query)],
      responses: {
        [String(spec.status)]: {
          description: spec.summary,
          content: { 'application/json': { schema: toJsonSchema(spec.response, 'output') } },
        },
        '400': errorResponse('a parameter or the body does not match the schema; the message names the field'),
        '401': errorResponse('missing or wrong bearer token'),
        ...(spec.params ? { '404': errorResponse('no such computation') } : {}),
      },
    };
    if (spec.body)
      operation.requestBody = { required: true, content: { 'application/json': { schema: toJsonSchema(spec.body, 'input') } } };
    paths[path] ??= {};
    paths[path][spec.method.toLowerCase()] = operation;
  }
  for (const [path, extra] of Object.entries(EXTRA_PATHS)) {
    paths[path] = {
      get: {
        summary: extra.summary,
        operationId: path.replace(/\W/g, '') || 'root',
        responses: { '200': { description: extra.summary, content: { [extra.contentType]: {} } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'shadowvm manager', version, description: 'Shadow VMs beside a primary: run, watch and steer computations.' },
    paths,
    components: {
      schemas: { Error: toJsonSchema(ErrorSchema, 'output') },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    // Optional: a loopback manager runs without a token; any other bind address requires one.
    security: [{}, { bearer: [] }],
  };
}
