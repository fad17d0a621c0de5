// The computation's input log: every nondeterministic input the primary received, in order.
// Shadows are fed from it live; a restored VM re-executes from it; the store persists it.

import type { InputLogReader, InputRecord } from '../drivers/types.js';

export class InputLog implements InputLogReader {
  private readonly records: InputRecord[] = [];

  /** Appends the primary's next record; a gap or repeat in `seq` is a driver bug, not a guest's. */
  append(record: InputRecord): void {
    if (record.seq !== this.records.length) {
      throw new Error(`input log out of order: got seq ${record.seq}, expected ${this.records.length}`);
    }
    this.records.push(record);
  }

  *read(from: number): Iterable<InputRecord> {
    for (let seq = from; seq < this.records.length; seq++) yield this.records[seq] as InputRecord;
  }

  get length(): number {
    return this.records.length;
  }
}
