// The OpenAPI document validates structurally: version 3.1, every route of the table present with
// its method, parameters named in the path declared, every $ref resolvable inside the document.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openApiDocument } from './openapi.js';
import { EXTRA_PATHS, ROUTES } from './schemas.js';

type Node = Record<string, unknown>;

function resolvePointer(document: Node, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local refs: ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Node | undefined)?.[key], document);
}

function walk(node: unknown, visit: (node: Node, path: string) => void, path = '#'): void {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) walk(item, visit, `${path}/${i}`);
  } else if (node && typeof node === 'object') {
    // A `properties` map names fields (one may be called "type"); its values are the schemas.
    if (!path.endsWith('/properties')) visit(node as Node, path);
    for (const [key, value] of Object.entries(node)) walk(value, visit, `${path}/${key}`);
  }
}

test('the OpenAPI document is 3.1, complete and self-contained', () => {
  const document = JSON.parse(JSON.stringify(openApiDocument('1.2.3'))) as Node;
  assert.equal(document.openapi, '3.1.0');
  assert.equal((document.info as Node).version, '1.2.3');
  const paths = document.paths as Record<string, Record<string, Node>>;
  const operationIds = new Set<string>();
  for (const [id, spec] of Object.entries(ROUTES)) {
    const path = spec.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const operation = paths[path]?.[spec.method.toLowerCase()];
    assert.ok(operation, `${spec.method} ${path} is documented`);
    assert.equal(operation.operationId, id);
    assert.ok(!operationIds.has(id));
    operationIds.add(id);
    const declared = ((operation.parameters ?? []) as Node[]).filter((p) => p.in === 'path').map((p) => p.name);
    assert.deepEqual(declared.sort(), [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort(), `path parameters of ${path}`);
    const responses = operation.responses as Record<string, Node>;
    assert.ok(responses[String(spec.status)], `success response of ${id}`);
    assert.ok(responses['400'] && responses['401']);
    if ('body' in spec) assert.ok((operation.requestBody as Node | undefined)?.content, `request body of ${id}`);
  }
  for (const path of Object.keys(EXTRA_PATHS)) assert.ok(paths[path]?.get, path);
  let refs = 0;
  walk(document, (node, at) => {
    if (typeof node.$ref === 'string') {
      refs++;
      assert.ok(resolvePointer(document, node.$ref) !== undefined, `${at}: ${node.$ref} resolves`);
    }
    if ('type' in node && at.includes('/schema')) {
      const types = Array.isArray(node.type) ? node.type : [node.type];
      for (const type of types)
        assert.ok(
          ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'].includes(type as string),
          `${at}: type ${String(type)}`,
        );
    }
  });
  assert.ok(refs > 0);
});
