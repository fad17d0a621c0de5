import { ShadowvmError } from '../errors.js';

export class PageOutOfRangeError extends ShadowvmError {
  constructor(checkpointId: string, page: number, pageCount: number) {
    super('page-out-of-range', `page ${page} is outside checkpoint ${checkpointId} (${pageCount} pages); read pages below its page count`);
  }
}

/** A snapshot's pages do not have the size it (or its parent checkpoint) declares. */
export class PageSizeError extends ShadowvmError {
  constructor(expected: number, got: number) {
    super('page-size', `checkpoint page of ${got} bytes where ${expected} were expected; the driver must send whole pages`);
  }
}

/** A stored checkpoint no longer matches its root digest or misses a page: the store is damaged. */
export class CheckpointCorruptError extends ShadowvmError {
  constructor(checkpointId: string, reason: string) {
    super('checkpoint-corrupt', `checkpoint ${checkpointId} is damaged (${reason}); roll back to an earlier checkpoint`);
  }
}

/** The checkpoint was stored without the driver's state digest, which a restore checks against. */
export class CheckpointNotRestorableError extends ShadowvmError {
  constructor(checkpointId: string) {
    super(
      'checkpoint-not-restorable',
      `checkpoint ${checkpointId} has no state digest to restore against; create checkpoints with the epoch's digest`,
    );
  }
}
