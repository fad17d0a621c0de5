// Computation and VM rows as both stores read them back.

import { z } from 'zod';
import type { VmEnd } from '../../drivers/types.js';
import { COMPUTATION_STATUSES, type ComputationRow, type VmRecord } from '../types.js';
import { jsonSchema, parseJson, parseRow, stringRecord } from './parse.js';

/** Computations listed when the query gives no limit. */
export const DEFAULT_LIST_LIMIT = 50;

const computationRow = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  config: z.string(),
  status: z.enum(COMPUTATION_STATUSES),
  exit_code: z.number().nullable(),
  report: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});

export function toComputation(row: unknown): ComputationRow {
  const r = parseRow(computationRow, row, 'computation');
  return {
    id: r.id,
    name: r.name,
    image: r.image,
    config: parseJson(r.config, jsonSchema, `config of computation ${r.id}`),
    status: r.status,
    exitCode: r.exit_code,
    report: r.report === null ? null : parseJson(r.report, jsonSchema, `report of computation ${r.id}`),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const vmEndSchema: z.ZodType<VmEnd> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('exit'), code: z.number() }),
  z.object({ kind: z.enum(['trap', 'oom', 'runaway', 'killed', 'error']), message: z.string() }),
]);

const profileSchema = z.object({ name: z.string(), dimensions: stringRecord });

const vmRow = z.object({
  computation_id: z.string(),
  vm_id: z.string(),
  role: z.enum(['primary', 'shadow']),
  profile: z.string(),
  status: z.enum(['starting', 'running', 'ended']),
  end_state: z.string().nullable(),
  started_at: z.number(),
  ended_at: z.number().nullable(),
});

export function toVm(row: unknown): VmRecord {
  const r = parseRow(vmRow, row, 'VM');
  const what = `VM ${r.vm_id} of ${r.computation_id}`;
  return {
    computationId: r.computation_id,
    vmId: r.vm_id,
    role: r.role,
    profile: parseJson(r.profile, profileSchema, `profile of ${what}`),
    status: r.status,
    end: r.end_state === null ? null : parseJson(r.end_state, vmEndSchema, `end of ${what}`),
    startedAt: r.started_at,
    endedAt: r.ended_at,
  };
}
