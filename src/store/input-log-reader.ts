// The persisted input log as the driver interface's InputLogReader, for restoring a VM from a
// store. Records are fetched in batches: holding a SQLite cursor open across the caller's
// iteration would block every other statement on the connection.

import type { InputLogReader, InputRecord } from '../drivers/types.js';
import type { InputLogRepository } from './types.js';

const BATCH = 512;

export function storedInputLog(inputs: InputLogRepository, computationId: string): InputLogReader {
  return {
    *read(from: number): Iterable<InputRecord> {
      let next = from;
      for (;;) {
        const batch = inputs.read(computationId, next, BATCH);
        yield* batch;
        const last = batch[batch.length - 1];
        if (batch.length < BATCH || last === undefined) return;
        next = last.seq + 1;
      }
    },
    get length(): number {
      return inputs.count(computationId);
    },
  };
}
