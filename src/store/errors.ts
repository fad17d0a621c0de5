import { ShadowvmError } from '../errors.js';

/** The file exists but holds something other than a shadowvm database. */
export class NotAShadowvmDatabaseError extends ShadowvmError {
  constructor(path: string) {
    super('not-a-shadowvm-db', `${path} is not a shadowvm database; point --store at another database or move this one away`);
  }
}

/** The database was written by a newer shadowvm than this one. */
export class SchemaTooNewError extends ShadowvmError {
  constructor(path: string, found: number, known: number) {
    super(
      'schema-too-new',
      `${path} has schema version ${found} but this shadowvm knows up to ${known}; upgrade shadowvm or point --store at another database`,
    );
  }
}

/** The database file cannot be opened or created at all. */
export class StoreOpenError extends ShadowvmError {
  constructor(path: string, reason: string) {
    super('store-open', `cannot open database ${path} (${reason}); check the path and its permissions`);
  }
}

/** A stored row does not have the shape this code wrote: the file was altered or damaged. */
export class StoreCorruptError extends ShadowvmError {
  constructor(what: string) {
    super('store-corrupt', `stored ${what} is damaged; restore the database from a backup or start a new one`);
  }
}

export class ComputationNotFoundError extends ShadowvmError {
  constructor(id: string) {
    super('computation-not-found', `no computation ${id}; shadowvm list shows the ids`, 3);
  }
}

export class VmNotFoundError extends ShadowvmError {
  constructor(computationId: string, vmId: string) {
    super('vm-not-found', `computation ${computationId} has no VM ${vmId}; register the VM before updating it`, 3);
  }
}

export class CheckpointNotFoundError extends ShadowvmError {
  constructor(id: string) {
    super('checkpoint-not-found', `no checkpoint ${id}; list the computation's checkpoints to find its id`, 3);
  }
}

/** Input records must continue the log exactly: a gap or a repeat would break replay. */
export class InputLogOrderError extends ShadowvmError {
  constructor(computationId: string, expected: number, got: number) {
    super(
      'input-log-order',
      `input log of ${computationId} expects seq ${expected} next but got ${got}; the driver must log inputs in order`,
    );
  }
}

export class VerdictNotFoundError extends ShadowvmError {
  constructor(id: number) {
    super('verdict-not-found', `no verdict ${id}; read the computation's verdicts to find its id`, 3);
  }
}

export class AlertNotFoundError extends ShadowvmError {
  constructor(id: number) {
    super('alert-not-found', `no alert ${id}; list the computation's alerts to find its id`, 3);
  }
}
