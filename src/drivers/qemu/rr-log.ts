// Reads the record/replay log a recording QEMU 7.2 writes, as it grows, to tell whether the point
// where the recorder stopped is a clean epoch boundary. The recorder may deliver an interrupt (or
// run an async event) at the very count it stops at: the log then holds that event at count X,
// while a replayer stopped at X by replay-break has not taken it yet. Their RAM differs at X
// although both report X. A boundary is clean when nothing but clocks, checkpoints and char
// writes was logged since the instruction record that reached X.
//
// Encoding (QEMU 7.2, REPLAY_VERSION 0xe0200c; integers big-endian; arrays = u32 length + bytes):
// one event byte, then its payload. Since 7.1 an async event's kind is part of its event byte (no
// separate checkpoint/kind bytes); the numbering below was checked against real 7.2 logs.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { QemuProcessError } from './errors.js';

const eventInstruction = 0; // u32 instructions executed since the previous event
const eventInterrupt = 1;
const eventException = 2;
const eventAsyncFirst = 3; // 3 + ReplayAsyncEventKind, then that kind's payload
const eventAsyncLast = 9;
const eventShutdownFirst = 10; // 10 + ShutdownCause (11 causes in 7.2)
const eventShutdownLast = 21;
const eventCharWrite = 22; // u32 result, u32 offset
const eventCharReadAll = 23; // array
const eventCharReadAllError = 24; // u32
const eventRandom = 27; // u32 result, array (25, 26: audio, absent here)
const eventClockFirst = 28; // u64 value (host, virtual_rt)
const eventClockLast = 29;
const eventCheckpointFirst = 30; // no payload (9 checkpoint kinds)
const eventCheckpointLast = 38;
const eventEnd = 39;

// Async event kinds (ReplayAsyncEventKind in 7.2); input events (2) never occur without a display.
const asyncBh = 0; // u64 id
const asyncBhOneshot = 1; // u64 id
const asyncInputSync = 3;
const asyncCharRead = 4; // u8 chardev, array
const asyncBlock = 5; // u64 id
const asyncNet = 6; // u8 netdev, u32 flags, array

/** Bytes at the start of the log before the first event (version + spare). */
export const replayHeaderSize = 12;

/** Thrown when the log holds something this reader does not know: its encoding is not 7.2's. */
class UnknownEvent extends Error {}
/** The log ends inside an event: the rest is still in the recorder's buffer. */
class Truncated extends Error {}

class Cursor {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}
  skip(count: number): void {
    if (this.offset + count > this.bytes.length) throw new Truncated();
    this.offset += count;
  }
  u8(): number {
    if (this.offset + 1 > this.bytes.length) throw new Truncated();
    return this.bytes[this.offset++]!;
  }
  u32(): number {
    if (this.offset + 4 > this.bytes.length) throw new Truncated();
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  array(): void {
    this.skip(this.u32());
  }
}

/** Skips one event's payload; returns the instructions it accounts for (instruction events only). */
function readEvent(cursor: Cursor, event: number): number {
  const within = (first: number, last: number) => event >= first && event <= last;
  if (event === eventInstruction) return cursor.u32();
  if (within(eventClockFirst, eventClockLast) || event === eventCharWrite) cursor.skip(8);
  else if (event === eventCharReadAll) cursor.array();
  else if (event === eventCharReadAllError) cursor.skip(4);
  else if (event === eventRandom) {
    cursor.skip(4);
    cursor.array();
  } else if (within(eventAsyncFirst, eventAsyncLast)) readAsyncPayload(cursor, event - eventAsyncFirst);
  else if (
    !(
      event === eventInterrupt ||
      event === eventException ||
      event === eventEnd ||
      within(eventShutdownFirst, eventShutdownLast) ||
      within(eventCheckpointFirst, eventCheckpointLast)
    )
  ) {
    throw new UnknownEvent(`event ${event}`);
  }
  return 0;
}

function readAsyncPayload(cursor: Cursor, kind: number): void {
  if (kind === asyncBh || kind === asyncBhOneshot || kind === asyncBlock) cursor.skip(8);
  else if (kind === asyncCharRead) {
    cursor.skip(1);
    cursor.array();
  } else if (kind === asyncNet) {
    cursor.skip(5);
    cursor.array();
  } else if (kind !== asyncInputSync) throw new UnknownEvent(`async event kind ${kind}`);
}

/** Events that change guest state at the current count (not instructions, clocks, outputs). */
function actsAtCount(event: number): boolean {
  return event === eventInterrupt || event === eventException || (event >= eventAsyncFirst && event <= eventAsyncLast);
}

/** Follows one recorder's log from its start; call `advance` after each stop + flush. */
export class ReplayLogReader {
  private readonly path: string;
  private offset = replayHeaderSize;
  private icount: number;
  /** An interrupt/exception/async event was logged after the last instruction record. */
  private actedAtCount = false;

  /** `startIcount`: the recorder's count before it ran (0 at boot, the snapshot's after -loadvm). */
  constructor(path: string, startIcount: number) {
    this.path = path;
    this.icount = startIcount;
  }

  /**
   * Reads the complete events written since the last call and tells whether a stop at `icount`
   * is a clean boundary. The recorder must have flushed its log past that stop.
   */
  cleanStopAt(icount: number): boolean {
    this.advance();
    if (this.icount !== icount) {
      throw new QemuProcessError(`the replay log reaches instruction ${this.icount}, the recorder reports ${icount}: unreadable log`);
    }
    return !this.actedAtCount;
  }

  private advance(): void {
    const size = statSync(this.path).size;
    if (size <= this.offset) return;
    const bytes = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, bytes, 0, bytes.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const cursor = new Cursor(bytes);
    let complete = 0;
    try {
      while (cursor.offset < bytes.length) {
        const event = cursor.u8();
        const instructions = readEvent(cursor, event);
        complete = cursor.offset;
        if (instructions > 0) {
          this.icount += instructions;
          this.actedAtCount = false;
        } else if (actsAtCount(event)) this.actedAtCount = true;
      }
    } catch (error) {
      if (error instanceof UnknownEvent) {
        throw new QemuProcessError(`unreadable replay log ${this.path} at byte ${this.offset + complete}: ${error.message}`);
      }
      if (!(error instanceof Truncated)) throw error;
    }
    this.offset += complete;
  }
}
