// The duty of a lockstep VM that replays (rr=replay): a shadow, or a restored VM catching up. It
// runs the recording's log to the count the recorder published for each epoch (replay-break),
// restarts itself from a snapshot when the replay stalls, and follows the primary into its next
// recording after a rollback. A replayer starts its QEMU lazily, once the log holds the epoch it
// replays.
import { existsSync } from 'node:fs';
import type { VmEvents } from '../types.js';
import type { CheckpointRegistry } from './checkpoint-registry.js';
import { QemuProcessError, QemuRequestError } from './errors.js';
import type { LockstepCounters } from './lockstep-vm.js';
import type { Machine } from './machine.js';
import type { Recording, RecordingStart, Recordings } from './recordings.js';

export interface ReplayerContext {
  readonly machine: Machine;
  readonly events: VmEvents;
  readonly counters: LockstepCounters;
  readonly recordings: Recordings;
  readonly checkpoints: CheckpointRegistry;
  /**
   * A primary replays only to catch up: past the end of the latest recording it records the next
   * one. A shadow waits for that recording and follows it.
   */
  readonly leads: boolean;
}

/**
 * What a replayer's next QEMU must show once started (a restore, a change of recording, a restart
 * from a checkpoint): throws StateMismatchError when its guest is not there.
 */
export type StateCheck = () => void;

/** How a replayed epoch ended: at its boundary, or past the end of the recording (a leading VM records on). */
export type Replayed = { readonly kind: 'boundary'; readonly guestEnded: boolean } | { readonly kind: 'recording-over' };

/**
 * A replayer whose instruction count has not moved for this long is stalled (see replayTo).
 * Replaying one epoch takes seconds even on a loaded host, and a lockstep guest never idles
 * (`idle=poll`, launch.ts), so its count moves whenever it runs.
 */
const replayStallMs = 10_000;
/** Restarts of a stalled replayer within one epoch before it counts as broken. */
const replayRestartsPerEpoch = 2;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Replayer {
  private readonly context: ReplayerContext;
  private current: Recording;
  /** The snapshot the next QEMU starts from (undefined: boot). */
  private from: RecordingStart | undefined;
  /** The running QEMU: the snapshot it started from and the epoch it lies at. */
  private started: { readonly from: RecordingStart | undefined; readonly epoch: number } | undefined;
  /** Serial file size at each epoch boundary since this QEMU started (a restart replays from one). */
  private serialAtEpoch = new Map<number, number>();
  private check: StateCheck | undefined;

  constructor(context: ReplayerContext, recording: Recording, from?: RecordingStart, check?: StateCheck) {
    this.context = context;
    this.current = recording;
    this.from = from;
    this.check = check;
  }

  /** The recording this replayer replays now. */
  get recording(): Recording {
    return this.current;
  }

  /**
   * Replays to the recorder's count for `epoch`, following it into later recordings. `reached`:
   * the RAM of the boundary the VM reported last, which the next recording must start from.
   */
  async replayEpoch(epoch: number, reached: Uint8Array | undefined): Promise<Replayed> {
    const { machine, recordings } = this.context;
    if (this.started !== undefined) this.serialAtEpoch.set(epoch - 1, machine.serial.position);
    for (;;) {
      const boundary = await machine.unlessGone(this.current.boundary(epoch));
      if (boundary.kind === 'guest-ended') return { kind: 'boundary', guestEnded: true };
      if (boundary.kind === 'icount') {
        if (!machine.running) await this.launch(epoch - 1);
        await this.replayTo(epoch, boundary.icount);
        return { kind: 'boundary', guestEnded: machine.guestEnded || this.current.endedIn(epoch) };
      }
      if (this.context.leads && recordings.latest === this.current) return { kind: 'recording-over' };
      await this.follow(await machine.unlessGone(recordings.after(this.current)), reached);
    }
  }

  /** Starts a QEMU at boundary `startEpoch` of the recording, from `from` (or a boot). */
  private async launch(startEpoch: number): Promise<void> {
    const { machine } = this.context;
    const from = this.from;
    if (from) machine.loadDisk(from.disk);
    else machine.createOverlay();
    await machine.launch({ rr: { mode: 'replay', file: this.current.rrFile }, ...(from ? { loadvm: from.tag } : {}) });
    this.started = { from, epoch: startEpoch };
    this.serialAtEpoch = new Map([[startEpoch, 0]]);
    const check = this.check;
    this.check = undefined;
    check?.();
  }

  /** Moves a replayer paused at the end of a recording onto the next one (same guest state). */
  private async follow(next: Recording, reached: Uint8Array | undefined): Promise<void> {
    await this.stop();
    this.current = next;
    this.from = next.start;
    if (reached) this.check = () => this.context.machine.checkRam(reached, `the start of recording ${next.index}`);
  }

  private async stop(): Promise<void> {
    await this.context.machine.stop();
    this.started = undefined;
  }

  /**
   * Runs a replayer to the recorder's count. A replayer can stall, "running" short of the count
   * forever: seen with gdb, the log's next event is a CHECKPOINT_CLOCK_VIRTUAL (a virtual timer
   * ran there while recording) that no timer of the replayer reaches, so its vCPU gets a budget of
   * 0 and it spins with its main loop; no nudge moves it (stop/cont, a new break, QMP traffic).
   * With QEMU's host-tuned clock (`shift=auto`) and a halting guest that happened about 1 epoch in
   * 300, and in every recording that starts from a snapshot; launch.ts's fixed clock removed it
   * (none in 1,100 epochs). Should one still come, the replayer restarts from the latest snapshot
   * of its recording, which passed most of those stalls; one that recurs there fails the replayer.
   */
  private async replayTo(epoch: number, icount: number): Promise<void> {
    const { machine } = this.context;
    for (let restarts = 0; machine.icount !== icount; restarts++) {
      const stall = await this.runTo(icount);
      if (stall === undefined) break;
      if (restarts === replayRestartsPerEpoch) throw await this.stuck(icount, stall);
      await this.restart(epoch);
    }
    // A replayer whose guest powered off stops where the request was logged, short of the count.
    if (machine.icount !== icount && !machine.guestEnded) {
      this.context.events.onInputMismatch({ epoch, expected: `icount ${icount}`, got: `icount ${machine.icount}` });
    }
  }

  /** Lets the replayer run until it stops at `icount` (undefined) or makes no progress (why). */
  private async runTo(icount: number): Promise<string | undefined> {
    const { machine } = this.context;
    const qmp = machine.qmp;
    await qmp.execute('replay-break', { icount });
    let stoppedMeanwhile = false;
    const stopped = qmp.waitEvent('STOP', 24 * 3600_000).then(() => (stoppedMeanwhile = true));
    stopped.catch(() => undefined);
    await machine.run();
    for (let seen = machine.icount; ; ) {
      await Promise.race([stopped, sleep(replayStallMs)]);
      const now = await machine.readIcount();
      if (stoppedMeanwhile) {
        machine.markStopped(now);
        return undefined;
      }
      if (now === seen) return `no progress at instruction ${now} in ${replayStallMs / 1000} s`;
      seen = now;
    }
  }

  /**
   * Restarts a stalled replayer from the latest snapshot of its recording that lies inside the
   * current QEMU's run (a checkpoint at a boundary it reported, else the snapshot or boot it
   * started from). Its serial file restarts too: what it prints again up to the last boundary is
   * not output anew.
   */
  private async restart(epoch: number): Promise<void> {
    const { machine, checkpoints, counters } = this.context;
    const start = this.started;
    if (start === undefined) throw new QemuRequestError(`replayer ${machine.id} has no start to replay from`);
    const checkpoint = checkpoints.latestIn(this.current.index, (at) => at < epoch && this.serialAtEpoch.has(at));
    const point = checkpoint ?? start.from;
    const pointEpoch = checkpoint?.epoch ?? start.epoch;
    if (point !== undefined && !existsSync(point.disk))
      throw new QemuProcessError(`replayer ${machine.id} stalled and its snapshot of epoch ${pointEpoch} is gone`);
    const replayedAgain = machine.serial.position - (this.serialAtEpoch.get(pointEpoch) ?? 0);
    counters.replayRestarts += 1;
    await this.stop();
    this.from = point ? { disk: point.disk, tag: point.tag } : undefined;
    if (checkpoint) this.check = () => machine.checkRam(checkpoint.pageHashes, `the checkpoint of epoch ${checkpoint.epoch}`);
    await this.launch(pointEpoch);
    machine.serial.restart(replayedAgain);
  }

  /** Says where a replayer that never stopped at `icount` got stuck (it may not answer either). */
  private async stuck(icount: number, cause: unknown): Promise<Error> {
    const { machine } = this.context;
    const qmp = machine.qmp;
    const where = await Promise.all([
      machine.readIcount().then((now) => `at instruction ${now}`),
      qmp.execute<{ status: string }>('query-status').then((status) => `status ${status.status}`),
    ]).then(
      (parts) => parts.join(', '),
      () => 'not answering',
    );
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new QemuProcessError(`replayer ${machine.id} did not stop at instruction ${icount} (${where}): ${reason}`);
  }
}
