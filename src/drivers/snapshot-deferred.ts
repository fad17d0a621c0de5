// A driver may be unable to snapshot a VM at one particular boundary and able to at a later one
// (QEMU refuses a snapshot while its record/replay layer holds queued events). The manager then
// keeps the checkpoint due and takes it at the next epoch instead of failing the computation.
import { ShadowvmError } from '../errors.js';

export class SnapshotDeferredError extends ShadowvmError {
  constructor(message: string) {
    super('snapshot-deferred', message);
  }
}
