// A lockstep replica: the primary records and ends every epoch at whatever instruction count it
// reached (recorder.ts); shadows replay its log and stop at that same count (replayer.ts), so all
// are compared at the same guest instant. A restored VM replays from a snapshot taken during the
// recording; a restored primary replays only to catch up and then records a new recording: its
// duty changes from replayer to recorder, on the same VM.
import { SnapshotDeferredError } from '../snapshot-deferred.js';
import type { SnapshotDelta, StateDigest, VmEnd } from '../types.js';
import { QemuRequestError } from './errors.js';
import { Recorder, type RecorderContext } from './recorder.js';
import type { Recordings } from './recordings.js';
import { Replayer } from './replayer.js';
import { type EpochView, QemuVm, type QemuVmConfig } from './vm.js';

export interface LockstepVmConfig extends QemuVmConfig {
  /** The computation's recordings (the primary records, the others replay). */
  readonly recordings: Recordings;
  /** The computation's other VMs, among which a recorder finds a replayer to snapshot. */
  readonly siblings: () => Iterable<LockstepVm>;
}

/** Counters a lockstep VM reports in every epoch's metrics, whichever its duty. */
export interface LockstepCounters {
  /** Extra runs the last recorded epoch needed to stop cleanly. */
  settleRuns: number;
  /** Stalled replays restarted from a snapshot. */
  replayRestarts: number;
}

export class LockstepVm extends QemuVm {
  private readonly recordings: Recordings;
  private readonly siblings: () => Iterable<LockstepVm>;
  private readonly counters: LockstepCounters = { settleRuns: 0, replayRestarts: 0 };
  /** What the VM does now (set by `start`): record or replay. */
  private duty: Recorder | Replayer | undefined;

  constructor(config: LockstepVmConfig) {
    // Replay needs the recorder's exact machine: one vCPU.
    super(config, { maxCpus: 1 });
    this.recordings = config.recordings;
    this.siblings = config.siblings;
  }

  protected async begin(): Promise<void> {
    const restore = this.restorePoint();
    if (this.role === 'primary' && this.config.request.restore === undefined) {
      const recording = this.recordings.latest;
      if (recording === undefined || recording.startEpoch !== 0)
        throw new QemuRequestError('the lockstep primary has no recording to start');
      this.duty = await Recorder.boot(this.recorderContext(), recording);
    } else {
      const { machine, counters, recordings } = this;
      const context = {
        machine,
        counters,
        recordings,
        events: this.config.request.events,
        checkpoints: this.config.checkpoints,
        leads: this.role === 'primary',
      };
      const checkpoint = restore?.checkpoint;
      this.duty = new Replayer(
        context,
        recordings.get(checkpoint?.recording ?? 0),
        checkpoint && { disk: checkpoint.disk, tag: checkpoint.tag },
        restore && (() => this.restored(restore.target)),
      );
    }
    await this.runEpoch();
  }

  protected async takeSnapshot(basePageHashes: Uint8Array | undefined): Promise<SnapshotDelta> {
    const duty = this.started();
    // QEMU 7.2 supports snapshots taken while replaying (their vmstate holds the log position), but
    // a snapshot taken while recording logs events no replayer repeats: every replayer then hangs
    // at that point (seen: shadows stuck a few thousand instructions past a checkpoint). A recorder's
    // checkpoint is therefore taken on a replayer paused at the same count: the same guest state.
    if (duty instanceof Recorder) {
      const replayers = [...this.siblings()].filter((vm) => vm.replaysBeside(this));
      for (const replayer of replayers) {
        try {
          return await this.machine.unlessGone(replayer.snapshot(basePageHashes));
        } catch (error) {
          if (!(error instanceof SnapshotDeferredError)) throw error;
        }
      }
      if (replayers.length > 0)
        throw new SnapshotDeferredError(`no replayer of ${this.id} can save a snapshot at epoch ${this.epoch} (events queued)`);
    }
    return this.saveCheckpoint(basePageHashes, duty.recording.index);
  }

  protected async runToBoundary(): Promise<boolean> {
    const duty = this.started();
    if (duty instanceof Recorder) return duty.recordEpoch(this.epoch);
    const replayed = await duty.replayEpoch(this.epoch, this.lastDigest?.pageHashes);
    if (replayed.kind === 'boundary') return replayed.guestEnded;
    const recorder = await Recorder.takeOver(this.recorderContext(), this.recordings, this.epoch - 1, this.lastDigest?.pageHashes);
    this.duty = recorder;
    return recorder.recordEpoch(this.epoch);
  }

  protected view(state: StateDigest, end: VmEnd | undefined): EpochView {
    // A recorder runs on after its guest asks to power off, until its main loop stops it; a
    // replayer stops where the request was logged. Their RAM after that request is not comparable,
    // so a lockstep VM whose guest ended reports the state of the last boundary both passed (with
    // the outputs and the end up to the very end).
    const compared = end !== undefined && this.lastDigest !== undefined ? this.lastDigest : state;
    return {
      digest: { ...compared, outputs: { serial: this.machine.serial.digest() } },
      extra: { recording: this.started().recording.index, ...this.counters },
    };
  }

  protected override async teardown(): Promise<void> {
    await super.teardown();
    if (this.duty instanceof Recorder) this.duty.stopped();
  }

  /** A replayer of `recorder`'s recording, paused at the same epoch and running QEMU. */
  private replaysBeside(recorder: LockstepVm): boolean {
    return (
      this !== recorder &&
      this.duty instanceof Replayer &&
      this.machine.running &&
      this.duty.recording === recorder.duty?.recording &&
      this.epoch === recorder.epoch &&
      this.machine.icount === recorder.machine.icount
    );
  }

  private recorderContext(): RecorderContext {
    return {
      machine: this.machine,
      events: this.config.request.events,
      counters: this.counters,
      firstSeq: this.config.request.restore?.log.length ?? 0,
      epochMs: this.config.epochMs,
      epochBudget: () => this.limits().epochBudget,
    };
  }

  private started(): Recorder | Replayer {
    if (this.duty === undefined) throw new QemuRequestError(`VM ${this.id} has not started`);
    return this.duty;
  }
}
