// Computations and their VMs, in PostgreSQL. Rows have the SQLite store's shape (same schema), so
// the row mappers are shared with it.

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
import type { PostgresConnection } from './connection.js';
import { withReference } from './errors.js';

export class PostgresComputations implements ComputationRepository {
  constructor(private readonly db: PostgresConnection) {}

  create(input: NewComputation): ComputationRow {
    const at = Date.now();
    const [row] = this.db.query(
      `INSERT INTO computations (id, name, image, config, status, exit_code, report, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'created', NULL, NULL, $5, $5) RETURNING *`,
      [newComputationId(), input.name, input.image, JSON.stringify(input.config), at],
    );
    return toComputation(row);
  }

  get(id: string): ComputationRow | null {
    const [row] = this.db.query('SELECT * FROM computations WHERE id = $1', [id]);
    return row === undefined ? null : toComputation(row);
  }

  list(query: ComputationQuery = {}): ComputationRow[] {
    const limit = query.limit ?? DEFAULT_LIST_LIMIT;
    const offset = query.offset ?? 0;
    const rows =
      query.status === undefined
        ? this.db.query('SELECT * FROM computations ORDER BY created_at DESC, id LIMIT $1 OFFSET $2', [limit, offset])
        : this.db.query('SELECT * FROM computations WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3', [
            query.status,
            limit,
            offset,
          ]);
    return rows.map(toComputation);
  }

  /** One statement: each patched field comes with a flag saying whether it was given at all. */
  update(id: string, patch: ComputationPatch): ComputationRow {
    const report = patch.report === undefined || patch.report === null ? null : JSON.stringify(patch.report);
    const [row] = this.db.query(
      `UPDATE computations SET
         status = COALESCE($2::text, status),
         exit_code = CASE WHEN $3::boolean THEN $4::bigint ELSE exit_code END,
         report = CASE WHEN $5::boolean THEN $6::text ELSE report END,
         updated_at = $7
       WHERE id = $1 RETURNING *`,
      [id, patch.status ?? null, patch.exitCode !== undefined, patch.exitCode ?? null, patch.report !== undefined, report, Date.now()],
    );
    if (row === undefined) throw new ComputationNotFoundError(id);
    return toComputation(row);
  }
}

export class PostgresVms implements VmRepository {
  constructor(private readonly db: PostgresConnection) {}

  create(input: NewVm): VmRecord {
    const [row] = withReference(
      () =>
        this.db.query(
          `INSERT INTO vms (computation_id, vm_id, role, profile, status, end_state, started_at, ended_at)
           VALUES ($1, $2, $3, $4, 'starting', NULL, $5, NULL)
           ON CONFLICT (computation_id, vm_id) DO UPDATE SET
             role = excluded.role, profile = excluded.profile, status = 'starting',
             end_state = NULL, started_at = excluded.started_at, ended_at = NULL
           RETURNING *`,
          [input.computationId, input.vmId, input.role, JSON.stringify(input.profile), Date.now()],
        ),
      () => new ComputationNotFoundError(input.computationId),
    );
    return toVm(row);
  }

  setStatus(computationId: string, vmId: string, status: Exclude<VmStatus, 'ended'>): void {
    this.requireChange(
      this.db.query('UPDATE vms SET status = $1 WHERE computation_id = $2 AND vm_id = $3 RETURNING vm_id', [status, computationId, vmId]),
      computationId,
      vmId,
    );
  }

  end(computationId: string, vmId: string, end: VmEnd): void {
    this.requireChange(
      this.db.query(
        `UPDATE vms SET status = 'ended', end_state = $1, ended_at = $2 WHERE computation_id = $3 AND vm_id = $4 RETURNING vm_id`,
        [JSON.stringify(end), Date.now(), computationId, vmId],
      ),
      computationId,
      vmId,
    );
  }

  list(computationId: string): VmRecord[] {
    return this.db.query('SELECT * FROM vms WHERE computation_id = $1 ORDER BY started_at, vm_id', [computationId]).map(toVm);
  }

  private requireChange(changed: readonly unknown[], computationId: string, vmId: string): void {
    if (changed.length === 0) throw new VmNotFoundError(computationId, vmId);
  }
}
