// Computations and their VMs, in SQLite.

import type Database from 'better-sqlite3';
import type { VmEnd } from '../../drivers/types.js';
import { ComputationNotFoundError, VmNotFoundError } from '../errors.js';
import { DEFAULT_LIST_LIMIT, toComputation, toVm } from '../rows/computations.js';
import { newComputationId } from '../rows/ids.js';
import type {
  ComputationPatch,
  ComputationQuery,
  ComputationRepository,
  ComputationRow,
  NewComputation,
  NewVm,
  VmRecord,
  VmRepository,
  VmStatus,
} from '../types.js';
import { withReference } from './errors.js';

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
