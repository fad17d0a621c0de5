// Shared helpers for detectors' save/restore: parse a state with zod and report one clear line.

import { z } from 'zod';
import type { DetectorState } from './detector.js';
import { DetectorOptionsError, DetectorStateError } from './errors.js';

export const finite = z.number().refine(Number.isFinite, 'must be a finite number');
export const finiteArray = z.array(finite);

/** Checks the state's tag and shape; returns the typed data. */
export function parseState<T>(detector: string, state: DetectorState, schema: z.ZodType<T>): T {
  if (state === null || typeof state !== 'object' || state.detector !== detector) {
    const got = state !== null && typeof state === 'object' ? String(state.detector) : typeof state;
    throw new DetectorStateError(detector, `state is for "${got}"`);
  }
  const parsed = schema.safeParse(state.data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DetectorStateError(detector, `${issue?.path.join('.') ?? ''} ${issue?.message ?? 'malformed'}`.trim());
  }
  return parsed.data;
}

/** Parses factory options with defaults; unknown keys are rejected so typos surface. */
export function parseOptions<T>(detector: string, options: Record<string, unknown> | undefined, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DetectorOptionsError(detector, `${issue?.path.join('.') ?? ''} ${issue?.message ?? 'malformed'}`.trim());
  }
  return parsed.data;
}
