// Where nondeterministic inputs come from. The primary performs each request for real and records
// it; a shadow replays the primary's records and never touches the outside world; a rolled-back
// primary replays its own log and then goes live again.

import { ReplayDivergenceError } from './errors.js';

export interface InputGate {
  /**
   * `kind` identifies the request precisely (e.g. "fd_read fd=0 len=65536"); `live` performs it
   * for real and is called only where the outside world may be touched. Returns the payload.
   * The payload is shared with whoever recorded it: nobody may mutate or transfer it.
   */
  take(kind: string, live: () => Uint8Array): Uint8Array;
}

/** One entry of an input log, as a gate replays it. */
export interface GateRecord {
  readonly kind: string;
  readonly payload: Uint8Array;
}

/** What the replay side says when the replica's request is not the primary's. */
export const END_OF_LOG = '(end of the input log)';

export class RecordingGate implements InputGate {
  constructor(private readonly onRecord: (kind: string, payload: Uint8Array) => void) {}

  take(kind: string, live: () => Uint8Array): Uint8Array {
    const payload = live();
    this.onRecord(kind, payload);
    return payload;
  }
}

/** Matches replayed records against requests; after one divergence it refuses everything. */
class ReplayMatcher {
  private diverged: ReplayDivergenceError | undefined;

  constructor(private readonly onMismatch: (expected: string, got: string) => void) {}

  /** Throws the divergence again: once diverged, the log position is meaningless. */
  ensureNotDiverged(): void {
    if (this.diverged) throw this.diverged;
  }

  payloadFor(record: GateRecord | undefined, kind: string): Uint8Array {
    if (record && record.kind === kind) return record.payload;
    const expected = record ? record.kind : END_OF_LOG;
    this.diverged = new ReplayDivergenceError(expected, kind);
    this.onMismatch(expected, kind);
    throw this.diverged;
  }
}

export class ReplayGate implements InputGate {
  private readonly matcher: ReplayMatcher;

  /**
   * `next` returns the next record, or undefined at the end of the log; it may block until the
   * primary's next record arrives. `onMismatch(expected, got)` hears of a divergence once.
   */
  constructor(
    private readonly next: () => GateRecord | undefined,
    onMismatch: (expected: string, got: string) => void,
  ) {
    this.matcher = new ReplayMatcher(onMismatch);
  }

  /** `live` is never called: a replica does not touch the outside world. */
  take(kind: string, _live?: () => Uint8Array): Uint8Array {
    this.matcher.ensureNotDiverged();
    return this.matcher.payloadFor(this.next(), kind);
  }
}

/**
 * Replays `next` until it returns undefined (which must then mean "nothing more", not "wait"),
 * then takes every later input live and records it: re-execution of a rolled-back primary from
 * its log, then back to the outside world.
 */
export class ChainedGate implements InputGate {
  private readonly matcher: ReplayMatcher;
  private readonly recording: RecordingGate;
  private live = false;

  constructor(
    private readonly next: () => GateRecord | undefined,
    onMismatch: (expected: string, got: string) => void,
    onRecord: (kind: string, payload: Uint8Array) => void,
  ) {
    this.matcher = new ReplayMatcher(onMismatch);
    this.recording = new RecordingGate(onRecord);
  }

  /** True once the log is exhausted and inputs come from the outside world. */
  get isLive(): boolean {
    return this.live;
  }

  take(kind: string, live: () => Uint8Array): Uint8Array {
    if (!this.live) {
      this.matcher.ensureNotDiverged();
      const record = this.next();
      if (record) return this.matcher.payloadFor(record, kind);
      this.live = true;
    }
    return this.recording.take(kind, live);
  }
}
