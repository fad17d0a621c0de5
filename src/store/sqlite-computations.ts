// Computations and their VMs, in SQLite.

import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { VmEnd } from '../drivers/types.js';
import { ComputationNotFoundError, VmNotFoundError } from './errors.js';
import { newComputationId } from './ids.js';
import { jsonSchema, parseJson, parseRow, profileSchema, vmEndSchema } from './rows.js';
import { withReference } from './sqlite-errors.js';
import {
  COMPUTATION_STATUSES,
  type ComputationPatch,
  type ComputationQuery,
  type ComputationRepository,
  type ComputationRow,
  type NewComputation,
  type NewVm,
  type VmRecord,
  type VmRepository,
  type VmStatus,
} from './types.js';

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

export const DEFAULT_LIST_LIMIT = 50;

export class SqliteComputations implements ComputationRepository {
  private readonly insertStmt: Database.Statement;
  private readonly getStmt: Database.Statement;
  private readonly listStmt: Database.Statement;
  private readonly listByStatusStmt: Database.Statement;
  private readonly updateStmt: Database.Statement;

  constructor(db: Database.Database) {
    this.insertStmt = db.prepare(
      `INSERT INTO computations (id, name, image, config, status, exit_code, report, created_at, updated_at)
       VALUES (@id, @name, @image, @config, 'created', NULL, NULL, @at, @at)`,
    );
    this.getStmt = db.prepare('SELECT * FROM computations WHERE id = ?');
    this.listStmt = db.prepare('SELECT * FROM computations ORDER BY created_at DESC, id LIMIT ? OFFSET ?');
    this.listByStatusStmt = db.prepare('SELECT * FROM computations WHERE status = ? ORDER BY created_at DESC, id LIMIT ? OFFSET ?');
    this.updateStmt = db.prepare(
      `UPDATE computations SET status = @status, exit_code = @exitCode, report = @report, updated_at = @at
       WHERE id = @id`,
    );
  }

  create(input: NewComputation): ComputationRow {
    const id = newComputationId();
    this.insertStmt.run({ id, name: input.name, image: input.image, config: JSON.stringify(input.config), at: Date.now() });
    return this.require(id);
  }

  get(id: string): ComputationRow | null {
    const row = this.getStmt.get(id);
    return row === undefined ? null : toComputation(row);
  }

  list(query: ComputationQuery = {}): ComputationRow[] {
    const limit = query.limit ?? DEFAULT_LIST_LIMIT;
    const offset = query.offset ?? 0;
    const rows = query.status === undefined ? this.listStmt.all(limit, offset) : this.listByStatusStmt.all(query.status, limit, offset);
    return rows.map(toComputation);
  }

  update(id: string, patch: ComputationPatch): ComputationRow {
    const current = this.require(id);
    const report = patch.report === undefined ? current.report : patch.report;
    this.updateStmt.run({
      id,
      status: patch.status ?? current.status,
      exitCode: patch.exitCode === undefined ? current.exitCode : patch.exitCode,
      report: report === null ? null : JSON.stringify(report),
      at: Date.now(),
    });
    return this.require(id);
  }

  private require(id: string): ComputationRow {
    const computation = this.get(id);
    if (computation === null) throw new ComputationNotFoundError(id);
    return computation;
  }
}

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

export class SqliteVms implements VmRepository {
  private readonly upsertStmt: Database.Statement;
  private readonly getStmt: Database.Statement;
  private readonly statusStmt: Database.Statement;
  private readonly endStmt: Database.Statement;
  private readonly listStmt: Database.Statement;

  constructor(db: Database.Database) {
    this.upsertStmt = db.prepare(
      `INSERT INTO vms (computation_id, vm_id, role, profile, status, end_state, started_at, ended_at)
       VALUES (@computationId, @vmId, @role, @profile, 'starting', NULL, @at, NULL)
       ON CONFLICT (computation_id, vm_id) DO UPDATE SET
         role = excluded.role, profile = excluded.profile, status = 'starting',
         end_state = NULL, started_at = excluded.started_at, ended_at = NULL`,
    );
    this.getStmt = db.prepare('SELECT * FROM vms WHERE computation_id = ? AND vm_id = ?');
    this.statusStmt = db.prepare('UPDATE vms SET status = ? WHERE computation_id = ? AND vm_id = ?');
    this.endStmt = db.prepare(`UPDATE vms SET status = 'ended', end_state = ?, ended_at = ? WHERE computation_id = ? AND vm_id = ?`);
    this.listStmt = db.prepare('SELECT * FROM vms WHERE computation_id = ? ORDER BY started_at, vm_id');
  }

  create(input: NewVm): VmRecord {
    withReference(
      () =>
        this.upsertStmt.run({
          computationId: input.computationId,
          vmId: input.vmId,
          role: input.role,
          profile: JSON.stringify(input.profile),
          at: Date.now(),
        }),
      () => new ComputationNotFoundError(input.computationId),
    );
    return toVm(this.getStmt.get(input.computationId, input.vmId));
  }

  setStatus(computationId: string, vmId: string, status: Exclude<VmStatus, 'ended'>): void {
    this.requireChange(this.statusStmt.run(status, computationId, vmId), computationId, vmId);
  }

  end(computationId: string, vmId: string, end: VmEnd): void {
    this.requireChange(this.endStmt.run(JSON.stringify(end), Date.now(), computationId, vmId), computationId, vmId);
  }

  list(computationId: string): VmRecord[] {
    return this.listStmt.all(computationId).map(toVm);
  }

  private requireChange(result: Database.RunResult, computationId: string, vmId: string): void {
    if (result.changes === 0) throw new VmNotFoundError(computationId, vmId);
  }
}
