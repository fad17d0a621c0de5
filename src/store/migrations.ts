// The schema as numbered migrations. The SQL uses only what SQLite and PostgreSQL share; the few
// type names that differ come from a ColumnTypes dialect, so a PostgreSQL store can apply these
// same migrations with its own types (BIGINT, DOUBLE PRECISION, BYTEA, identity keys).
// Migrations are append-only: never edit one that has shipped, add the next number instead.

import { SchemaTooNewError } from './errors.js';

/** Type names for one SQL dialect. */
export interface ColumnTypes {
  /** An auto-assigned integer primary key. */
  readonly autoId: string;
  /** A 64-bit integer (timestamps in ms, counters, page numbers). */
  readonly int: string;
  readonly real: string;
  readonly text: string;
  readonly blob: string;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Statements to run in order, in one transaction with the version's record. */
  statements(types: ColumnTypes): readonly string[];
}

/** The table that records applied migrations; created before migration 1. */
export function migrationsTable({ int, text }: ColumnTypes): string {
  return `CREATE TABLE IF NOT EXISTS schema_migrations (
    version ${int} PRIMARY KEY,
    name ${text} NOT NULL,
    applied_at ${int} NOT NULL
  )`;
}

const initialSchema: Migration = {
  version: 1,
  name: 'initial schema',
  statements: ({ autoId, int, real, text, blob }) => [
    `CREATE TABLE computations (
      id ${text} PRIMARY KEY,
      name ${text} NOT NULL,
      image ${text} NOT NULL,
      config ${text} NOT NULL,
      status ${text} NOT NULL,
      exit_code ${int},
      report ${text},
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL
    )`,
    `CREATE INDEX computations_by_created ON computations (created_at)`,
    `CREATE TABLE vms (
      computation_id ${text} NOT NULL REFERENCES computations (id),
      vm_id ${text} NOT NULL,
      role ${text} NOT NULL,
      profile ${text} NOT NULL,
      status ${text} NOT NULL,
      end_state ${text},
      started_at ${int} NOT NULL,
      ended_at ${int},
      PRIMARY KEY (computation_id, vm_id)
    )`,
    `CREATE TABLE epochs (
      id ${autoId},
      computation_id ${text} NOT NULL REFERENCES computations (id),
      epoch ${int} NOT NULL,
      verified ${int} NOT NULL,
      at ${int} NOT NULL
    )`,
    `CREATE INDEX epochs_by_computation ON epochs (computation_id, epoch)`,
    `CREATE TABLE epoch_metrics (
      epoch_id ${int} NOT NULL REFERENCES epochs (id),
      vm_id ${text} NOT NULL,
      instructions ${int} NOT NULL,
      run_ms ${real} NOT NULL,
      digest_ms ${real} NOT NULL,
      memory_pages ${int} NOT NULL,
      syscalls ${int} NOT NULL,
      extra ${text},
      PRIMARY KEY (epoch_id, vm_id)
    )`,
    `CREATE TABLE divergences (
      id ${autoId},
      computation_id ${text} NOT NULL REFERENCES computations (id),
      epoch ${int} NOT NULL,
      vm_id ${text} NOT NULL,
      kind ${text} NOT NULL,
      summary ${text} NOT NULL,
      page_count ${int} NOT NULL,
      detail ${text} NOT NULL,
      at ${int} NOT NULL
    )`,
    `CREATE INDEX divergences_by_epoch ON divergences (computation_id, epoch)`,
    `CREATE TABLE page_deltas (
      divergence_id ${int} NOT NULL REFERENCES divergences (id),
      page ${int} NOT NULL,
      delta ${blob} NOT NULL,
      PRIMARY KEY (divergence_id, page)
    )`,
    `CREATE TABLE inputs (
      computation_id ${text} NOT NULL REFERENCES computations (id),
      seq ${int} NOT NULL,
      epoch ${int} NOT NULL,
      kind ${text} NOT NULL,
      payload ${blob} NOT NULL,
      PRIMARY KEY (computation_id, seq)
    )`,
    `CREATE TABLE pages (
      content_key ${text} PRIMARY KEY,
      bytes ${blob} NOT NULL
    )`,
    `CREATE TABLE checkpoints (
      id ${text} PRIMARY KEY,
      computation_id ${text} NOT NULL REFERENCES computations (id),
      parent_id ${text} REFERENCES checkpoints (id),
      seq ${int} NOT NULL,
      epoch ${int} NOT NULL,
      page_size ${int} NOT NULL,
      page_count ${int} NOT NULL,
      registers ${text} NOT NULL,
      driver_state ${text} NOT NULL,
      root_digest ${text} NOT NULL,
      state_digest ${text},
      page_hashes ${blob},
      verified ${int} NOT NULL,
      created_at ${int} NOT NULL,
      UNIQUE (computation_id, seq)
    )`,
    `CREATE TABLE checkpoint_pages (
      checkpoint_id ${text} NOT NULL REFERENCES checkpoints (id),
      page ${int} NOT NULL,
      content_key ${text} REFERENCES pages (content_key),
      PRIMARY KEY (checkpoint_id, page)
    )`,
    `CREATE TABLE interventions (
      id ${autoId},
      computation_id ${text} NOT NULL REFERENCES computations (id),
      vm_id ${text},
      epoch ${int},
      kind ${text} NOT NULL,
      reason ${text} NOT NULL,
      score ${real},
      outcome ${text},
      detail ${text},
      at ${int} NOT NULL
    )`,
    `CREATE INDEX interventions_by_computation ON interventions (computation_id)`,
    `CREATE TABLE predictions (
      id ${autoId},
      computation_id ${text} NOT NULL REFERENCES computations (id),
      vm_id ${text} NOT NULL,
      epoch ${int} NOT NULL,
      detector ${text} NOT NULL,
      score ${real} NOT NULL,
      level ${text} NOT NULL,
      at ${int} NOT NULL
    )`,
    `CREATE INDEX predictions_by_epoch ON predictions (computation_id, epoch)`,
  ],
};

/** Metrics give memory in bytes: page sizes are the driver's own (rows before were 4 KiB pages). */
const memoryInBytes: Migration = {
  version: 2,
  name: 'memory in bytes',
  statements: () => [
    'ALTER TABLE epoch_metrics RENAME COLUMN memory_pages TO memory_bytes',
    'UPDATE epoch_metrics SET memory_bytes = memory_bytes * 4096',
  ],
};

/**
 * True records: an epoch barrier resolved again (rollback, retry) counts its attempts; a
 * divergence names both replicas of the pair; the vote's verdicts, the actions taken and the
 * alerts fired get tables of their own; interventions become the events of the timeline.
 */
const trueRecords: Migration = {
  version: 3,
  name: 'attempts, pairwise divergences, verdicts, events, actions and alerts',
  statements: ({ autoId, int, text }) => [
    `ALTER TABLE epochs ADD COLUMN attempt ${int} NOT NULL DEFAULT 1`,
    `ALTER TABLE divergences ADD COLUMN attempt ${int} NOT NULL DEFAULT 1`,
    `ALTER TABLE divergences ADD COLUMN peer_vm_id ${text}`,
    // Every divergence so far compared a shadow with the primary: the primary that was running
    // when it was logged is the latest started by then (a rollback starts a new one), else the
    // computation's first. Null only when the computation has no primary on record.
    `UPDATE divergences SET peer_vm_id = COALESCE(
      (SELECT v.vm_id FROM vms v
        WHERE v.computation_id = divergences.computation_id AND v.role = 'primary' AND v.started_at <= divergences.at
        ORDER BY v.started_at DESC, v.vm_id DESC LIMIT 1),
      (SELECT v.vm_id FROM vms v
        WHERE v.computation_id = divergences.computation_id AND v.role = 'primary'
        ORDER BY v.started_at, v.vm_id LIMIT 1))`,
    `CREATE TABLE verdicts (
      id ${autoId},
      computation_id ${text} NOT NULL REFERENCES computations (id),
      epoch ${int} NOT NULL,
      attempt ${int} NOT NULL,
      kind ${text} NOT NULL,
      blamed ${text} NOT NULL,
      majority ${text} NOT NULL,
      differing ${text} NOT NULL,
      resolution ${text},
      at ${int} NOT NULL
    )`,
    `CREATE INDEX verdicts_by_epoch ON verdicts (computation_id, epoch)`,
    // Renamed rather than copied, so event ids stay what they were and the ids assigned next
    // (PostgreSQL's identity sequence) follow on from them.
    'ALTER TABLE interventions RENAME TO events',
    'ALTER TABLE events RENAME COLUMN reason TO message',
    // Only the manager's action records had a score and an outcome; they stay in the line people read.
    `UPDATE events SET message = message
      || COALESCE(' (score ' || CAST(score AS ${text}) || ')', '')
      || COALESCE('; ' || outcome, '')`,
    'ALTER TABLE events DROP COLUMN score',
    'ALTER TABLE events DROP COLUMN outcome',
    'DROP INDEX interventions_by_computation',
    'CREATE INDEX events_by_computation ON events (computation_id)',
    `CREATE TABLE actions (
      id ${autoId},
      computation_id ${text} NOT NULL REFERENCES computations (id),
      epoch ${int} NOT NULL,
      kind ${text} NOT NULL,
      vm_id ${text},
      actor ${text} NOT NULL,
      cause ${text} NOT NULL,
      reason ${text} NOT NULL,
      status ${text} NOT NULL,
      outcome ${text} NOT NULL,
      dry_run ${int} NOT NULL,
      at ${int} NOT NULL
    )`,
    'CREATE INDEX actions_by_computation ON actions (computation_id)',
    `CREATE TABLE alerts (
      id ${autoId},
      computation_id ${text} NOT NULL REFERENCES computations (id),
      vm_id ${text} NOT NULL,
      name ${text} NOT NULL,
      severity ${text} NOT NULL,
      epoch ${int} NOT NULL,
      reason ${text} NOT NULL,
      fired_at ${int} NOT NULL,
      resolved_epoch ${int},
      resolved_at ${int},
      resolution ${text}
    )`,
    'CREATE INDEX alerts_by_computation ON alerts (computation_id)',
  ],
};

/** Every migration, by ascending version. */
export const MIGRATIONS: readonly Migration[] = [initialSchema, memoryInBytes, trueRecords];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((latest, m) => Math.max(latest, m.version), 0);

/**
 * Migrations not yet applied up to version `target`, in the order to apply them;
 * SchemaTooNewError when the database at `location` has a version this code does not know.
 */
export function pendingMigrations(applied: ReadonlySet<number>, location: string, target = LATEST_SCHEMA_VERSION): Migration[] {
  const newest = Math.max(0, ...applied);
  if (newest > LATEST_SCHEMA_VERSION) throw new SchemaTooNewError(location, newest, LATEST_SCHEMA_VERSION);
  return MIGRATIONS.filter((m) => !applied.has(m.version) && m.version <= target).sort((a, b) => a.version - b.version);
}
