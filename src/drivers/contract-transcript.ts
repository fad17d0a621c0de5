// Everything one VM told the contract suite, in the order it told it, and waits on that history.
// Cases assert on the whole history (a report after onGone, a second onGone), not on the last
// event, so a transcript keeps every event and never drops one it did not expect.

import { setTimeout as sleep } from 'node:timers/promises';
import type { EpochReport, InputMismatch, InputPort, InputRecord, VmEnd, VmEvents } from './types.js';
import { describeEnd } from './vm-end.js';

export type VmEvent =
  | { readonly kind: 'epoch'; readonly report: EpochReport }
  | { readonly kind: 'input'; readonly record: InputRecord }
  | { readonly kind: 'mismatch'; readonly mismatch: InputMismatch }
  | { readonly kind: 'restored'; readonly epoch: number }
  | { readonly kind: 'gone'; readonly end: VmEnd };

export class Transcript {
  readonly events: VmEvent[] = [];
  /** What the VM is created with: plain functions, since a driver may copy or wrap them. */
  readonly listener: VmEvents;
  private readonly waiters = new Set<() => void>();
  private followers: InputPort[] = [];
  /**
   * Set one macrotask after onGone: a driver may deliver events of the same turn after it (the
   * contract forbids that, and the cases say so), and a wait must not give up before seeing them.
   */
  private goneSettled = false;

  constructor(readonly id: string) {
    this.listener = {
      onEpoch: (report) => this.add({ kind: 'epoch', report }),
      onInput: (record) => {
        this.add({ kind: 'input', record });
        for (const follower of this.followers) follower.feed(record);
      },
      onInputMismatch: (mismatch) => this.add({ kind: 'mismatch', mismatch }),
      onRestored: (epoch) => this.add({ kind: 'restored', epoch }),
      onGone: (end) => {
        this.add({ kind: 'gone', end });
        setImmediate(() => {
          this.goneSettled = true;
          this.wake();
        });
      },
    };
  }

  /** Feeds every input this VM records to `shadow`, as the loop does. */
  forwardInputs(shadow: InputPort): void {
    this.followers.push(shadow);
  }

  get reports(): EpochReport[] {
    return this.events.flatMap((event) => (event.kind === 'epoch' ? [event.report] : []));
  }

  get inputs(): InputRecord[] {
    return this.events.flatMap((event) => (event.kind === 'input' ? [event.record] : []));
  }

  get ends(): VmEnd[] {
    return this.events.flatMap((event) => (event.kind === 'gone' ? [event.end] : []));
  }

  get restoredAt(): number[] {
    return this.events.flatMap((event) => (event.kind === 'restored' ? [event.epoch] : []));
  }

  get gone(): VmEnd | undefined {
    return this.ends[0];
  }

  /** The epoch of the latest report, 0 before the first. */
  get lastEpoch(): number {
    return this.reports.at(-1)?.epoch ?? 0;
  }

  report(epoch: number): EpochReport | undefined {
    return this.reports.find((report) => report.epoch === epoch);
  }

  /** True once `reached()` holds; false after `ms`, or once the VM is gone without it. */
  until(reached: () => boolean, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), ms);
      const check = (): void => {
        if (reached()) finish(true);
        else if (this.goneSettled) finish(false);
      };
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The events that arrive within `ms` from now. */
  async during(ms: number): Promise<VmEvent[]> {
    const from = this.events.length;
    await sleep(ms);
    return this.events.slice(from);
  }

  /** Where the VM is, for failure messages: "at epoch 3", "gone after epoch 3 (exit 0)". */
  describe(): string {
    const gone = this.gone;
    if (!gone) return `${this.id} at epoch ${this.lastEpoch}`;
    return `${this.id} gone after epoch ${this.lastEpoch} (${describeEnd(gone)})`;
  }

  private add(event: VmEvent): void {
    this.events.push(event);
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** One event in a few words, for failure messages. */
export function describeEvent(event: VmEvent): string {
  switch (event.kind) {
    case 'epoch':
      return `report of epoch ${event.report.epoch}`;
    case 'input':
      return `input ${event.record.seq}`;
    case 'mismatch':
      return `input mismatch in epoch ${event.mismatch.epoch}`;
    case 'restored':
      return `onRestored(${event.epoch})`;
    case 'gone':
      return `onGone (${describeEnd(event.end)})`;
  }
}
