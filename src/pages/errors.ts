import { ShadowvmError } from '../errors.js';

/** A stored page delta does not decode against its primary page: the log is damaged. */
export class CorruptDeltaError extends ShadowvmError {
  constructor(detail: string) {
    super('corrupt-delta', `page delta is corrupt (${detail}); the differential log is damaged, re-run the computation`);
  }
}

/** Two pages that must be compared have different lengths: a caller mixed page sizes. */
export class PageLengthMismatchError extends ShadowvmError {
  constructor(primaryLength: number, shadowLength: number) {
    super(
      'page-length-mismatch',
      `cannot diff pages of ${primaryLength} and ${shadowLength} bytes; both replicas must use the same page size`,
    );
  }
}

/** A page-hash table is not a whole number of 16-byte digests. */
export class DigestLengthError extends ShadowvmError {
  constructor(length: number) {
    super('digest-length', `page-hash table of ${length} bytes is not a multiple of 16; the driver sent a malformed digest`);
  }
}
