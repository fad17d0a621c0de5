// The lockstep primary's duty while it records (rr=record): it stops every epoch at whatever
// instruction count it reached, provided the stop is clean, and publishes that count as the
// epoch's boundary, for the replayers to stop at and in the input log.
import { statSync } from 'node:fs';
import type { VmEvents } from '../types.js';
import { QemuProcessError } from './errors.js';
import type { LockstepCounters } from './lockstep-vm.js';
import type { Machine } from './machine.js';
import type { Recording, Recordings } from './recordings.js';
import { ReplayLogReader } from './rr-log.js';

export interface RecorderContext {
  readonly machine: Machine;
  readonly events: VmEvents;
  readonly counters: LockstepCounters;
  /** Seq of the first input record: a restored primary continues the computation's log. */
  readonly firstSeq: number;
  /** Wall-clock length of an epoch while the VM has no epoch budget. */
  readonly epochMs: number;
  /** The epoch length in instructions, once set (the VM's limit; it may change at run time). */
  readonly epochBudget: () => number | undefined;
}

/** Bytes the recorder must have written after a stop so its 4 KiB stdio buffer reached the file. */
const logFlushSlack = 12_288;
/** Extra run after a stop that left an event at the stop count (see recordEpoch). */
const settleMs = 5;
/** Extra runs allowed before a recorder that never stops cleanly counts as broken. */
const settleAttempts = 200;
/** The longest epoch of a recorder with an epoch budget, should its guest run far slower than usual. */
const budgetEpochMaxMs = 5000;
/** Name of the snapshot a recorder saves as it starts, which its replayers load. */
const startSnapshot = 'start';

export class Recorder {
  readonly recording: Recording;
  private readonly context: RecorderContext;
  /** Reads the recorder's own log to find clean epoch boundaries. */
  private readonly reader: ReplayLogReader;
  private seq: number;

  private constructor(context: RecorderContext, recording: Recording) {
    this.context = context;
    this.recording = recording;
    this.reader = new ReplayLogReader(recording.rrFile, context.machine.icount);
    this.seq = context.firstSeq;
  }

  /** A fresh primary: boots and records the computation's first recording. */
  static async boot(context: RecorderContext, recording: Recording): Promise<Recorder> {
    context.machine.createOverlay();
    await context.machine.launch({ rr: { mode: 'record', file: recording.rrFile } });
    recording.writeHeader();
    return new Recorder(context, recording);
  }

  /**
   * A restored primary replayed its old recording to where it ended, boundary `epoch`, and its
   * RAM is `reached` there: from here it records a new recording. The new recorder saves its own
   * start snapshot for the replayers that follow it.
   */
  static async takeOver(
    context: RecorderContext,
    recordings: Recordings,
    epoch: number,
    reached: Uint8Array | undefined,
  ): Promise<Recorder> {
    const { machine } = context;
    const rrFile = recordings.nextRrFile();
    await machine.relaunch(`handover-${epoch}`, { rr: { mode: 'record', file: rrFile, startSnapshot } });
    const startDisk = `${rrFile}.start.qcow2`;
    machine.saveDisk(startDisk);
    const recording = recordings.open(epoch, { disk: startDisk, tag: startSnapshot });
    recording.writeHeader();
    if (reached) machine.checkRam(reached, 'the replayed state');
    return new Recorder(context, recording);
  }

  /**
   * The recorder's epoch ends once it ran its epoch budget (without one, its wall-clock slice),
   * wherever it then stopped, provided the stop is clean: a recorder may take an interrupt (or run
   * an async event) at the very count it stops at, which a replayer stopped there by replay-break
   * has not taken yet, so both would report the same count with different RAM. Such a stop is run
   * on briefly until one leaves nothing at its count; only then are the replayers told the count.
   * True when the guest powered off.
   */
  async recordEpoch(epoch: number): Promise<boolean> {
    const { machine, counters } = this.context;
    const budget = this.context.epochBudget();
    let ended =
      budget === undefined
        ? await machine.runFor(this.context.epochMs)
        : await machine.runToCount(machine.icount + budget, budgetEpochMaxMs);
    counters.settleRuns = 0;
    await this.flushLog();
    for (let attempt = 0; !ended && !this.reader.cleanStopAt(machine.icount); attempt++) {
      if (attempt === settleAttempts) throw new QemuProcessError(`recorder ${machine.id} found no clean stop after ${attempt} tries`);
      ended = await machine.runFor(settleMs);
      await this.flushLog();
      counters.settleRuns = attempt + 1;
    }
    this.recording.publish(epoch, machine.icount);
    this.logBoundary(epoch);
    if (ended) this.recording.guestEnded(epoch);
    return ended;
  }

  /** The recorder stopped: whoever follows it continues in the next recording. */
  stopped(): void {
    this.recording.supersede();
  }

  /**
   * A paused recorder still holds up to 4 KiB of log in its stdio buffer, which a replaying shadow
   * needs. Every QMP command logs a clock read, so cheap commands push the buffer out.
   */
  private async flushLog(): Promise<void> {
    const { machine } = this.context;
    const size = () => statSync(this.recording.rrFile).size;
    const target = size() + logFlushSlack;
    for (let i = 0; i < 2000 && size() < target; i++) await machine.qmp.execute('query-status');
  }

  private logBoundary(epoch: number): void {
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setBigUint64(0, BigInt(this.context.machine.icount));
    this.context.events.onInput({ seq: this.seq++, epoch, kind: 'rr-boundary', payload });
  }
}
