// Reads a policy file (YAML, or JSON which YAML also reads) into a Policy. A bad file fails with a
// single line naming the file, the field and the fix, because that line is all a user sees.

import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { BUILT_IN_ALERTS, BUILT_IN_VM_POLICY } from './defaults.js';
import { PolicyError } from './errors.js';
import { featureDetectors } from './models.js';
import { applyPatch } from './resolve.js';
import { type Policy, type PolicyFile, policyFileSchema } from './schema.js';

type Issue = z.core.$ZodIssue;

/** `levels[1].enter`, the way a user would point at the field in the file. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    text += typeof key === 'number' ? `[${key}]` : `${text === '' ? '' : '.'}${String(key)}`;
  }
  return text;
}

/** The schema at `path`, to list the keys that were allowed where an unknown one was found. */
function schemaAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = unwrap(root);
  for (const key of path) {
    if (current instanceof z.ZodObject) current = unwrap((current.shape as Record<PropertyKey, unknown>)[key]);
    else if (current instanceof z.ZodArray) current = unwrap(current.element);
    else if (current instanceof z.ZodRecord) current = unwrap(current.valueType);
    else return undefined;
  }
  return current;
}

/** The keys an object schema allows; for a union of objects (a detector entry), those of any of them. */
function allowedKeys(schema: unknown): string[] {
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  if (schema instanceof z.ZodUnion) return [...new Set((schema.options as unknown[]).flatMap(allowedKeys))];
  return [];
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) {
    current = current.unwrap();
  }
  return current;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

function unknownKeyMessage(issue: Extract<Issue, { code: 'unrecognized_keys' }>): string {
  const key = issue.keys[0] ?? '';
  const allowed = allowedKeys(schemaAt(policyFileSchema, issue.path));
  const closest = allowed
    .map((name) => ({ name, distance: editDistance(key, name) }))
    .filter(({ distance }) => distance <= Math.max(2, Math.floor(key.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  const hint = closest !== undefined ? `did you mean "${closest.name}"?` : `allowed here: ${allowed.join(', ')}`;
  return `${formatPath([...issue.path, key])}: unknown setting; remove it or fix its spelling (${hint})`;
}

function issueMessage(issue: Issue): string {
  if (issue.code === 'unrecognized_keys') return unknownKeyMessage(issue);
  const where = issue.path.length === 0 ? '(top level)' : formatPath(issue.path);
  const input: unknown = issue.input;
  const got =
    typeof input === 'number' || typeof input === 'boolean' || (typeof input === 'string' && input.length <= 60)
      ? ` (got ${JSON.stringify(input)})`
      : '';
  return `${where}: ${issue.message}${got}`;
}

/** The issue to show first: an unknown key usually explains the "missing" errors next to it. */
function describeIssues(issues: readonly Issue[]): string {
  const first = issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0];
  if (first === undefined) return 'is not a valid policy';
  const others = issues.length - 1;
  const more = others > 0 ? ` (then ${others} more problem${others > 1 ? 's' : ''})` : '';
  return issueMessage(first) + more;
}

function readDocument(text: string, sourceName: string): unknown {
  try {
    return parseYaml(text);
  } catch (error) {
    const firstLine = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    throw new PolicyError(`${sourceName}: not valid YAML or JSON: ${firstLine.replace(/:$/, '')}`);
  }
}

function buildPolicy(file: PolicyFile, source: string, modelDirectory?: string): Policy {
  const { alerts, overrides, detectors, ...settings } = file;
  return {
    source,
    defaults: applyPatch(BUILT_IN_VM_POLICY, settings),
    overrides: (overrides ?? []).map(({ match, ...patch }) => ({ match, patch })),
    detectors: featureDetectors(detectors ?? {}, source, modelDirectory),
    alerts: {
      ...BUILT_IN_ALERTS,
      ...alerts,
      delivery: { ...BUILT_IN_ALERTS.delivery, ...alerts?.delivery },
    },
  };
}

/**
 * Parses and validates a policy; absent settings take the built-in defaults. Model files the
 * policy names are relative to `modelDirectory` (the policy file's); without one, it may name none.
 */
export function parsePolicy(text: string, sourceName: string, modelDirectory?: string): Policy {
  // An empty file (YAML null) means "all defaults", like no file at all.
  const document = readDocument(text, sourceName) ?? {};
  const result = policyFileSchema.safeParse(document, { reportInput: true });
  if (!result.success) throw new PolicyError(`${sourceName}: ${describeIssues(result.error.issues)}`);
  return buildPolicy(result.data, sourceName, modelDirectory);
}

/** The policy used when the user gives no file. */
/** The source of the policy that applies when none is given. */
export const BUILT_IN_SOURCE = 'built-in defaults';

export function defaultPolicy(): Policy {
  return buildPolicy({}, BUILT_IN_SOURCE);
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PolicyError(`${path}: cannot read the policy file (${reason}); check the path`);
  }
  return parsePolicy(text, path, dirname(path));
}
