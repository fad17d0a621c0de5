// Audit rows as both stores read them back: interventions and predictions.

import { z } from 'zod';
import type { StoredIntervention, StoredPrediction } from '../types.js';
import { jsonSchema, parseJson, parseRow } from './parse.js';

const interventionRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  vm_id: z.string().nullable(),
  epoch: z.number().nullable(),
  kind: z.string(),
  reason: z.string(),
  score: z.number().nullable(),
  outcome: z.string().nullable(),
  detail: z.string().nullable(),
  at: z.number(),
});

export function toIntervention(row: unknown): StoredIntervention {
  const r = parseRow(interventionRow, row, 'intervention');
  return {
    id: r.id,
    at: r.at,
    computationId: r.computation_id,
    vmId: r.vm_id,
    epoch: r.epoch,
    kind: r.kind,
    reason: r.reason,
    score: r.score,
    outcome: r.outcome,
    detail: r.detail === null ? null : parseJson(r.detail, jsonSchema, `detail of intervention ${r.id}`),
  };
}

const predictionRow = z.object({
  id: z.number(),
  computation_id: z.string(),
  vm_id: z.string(),
  epoch: z.number(),
  detector: z.string(),
  score: z.number(),
  level: z.enum(['warning', 'failure']),
  at: z.number(),
});

export function toPrediction(row: unknown): StoredPrediction {
  const r = parseRow(predictionRow, row, 'prediction');
  return {
    id: r.id,
    at: r.at,
    computationId: r.computation_id,
    vmId: r.vm_id,
    epoch: r.epoch,
    detector: r.detector,
    score: r.score,
    level: r.level,
  };
}
