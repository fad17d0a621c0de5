// poll_oneoff. The set of ready events is an input (the primary may have slept for it), so it
// goes through the gate as a list of (subscription index, error, flags, nbytes); a replica writes
// the events from its own subscriptions and never sleeps.

import { Errno, EventType, Layout, SubclockFlags } from './abi.js';
import { isClockId, liveClock } from './clock.js';
import { SyscallError } from './errors.js';
import type { GuestMemory } from './guest-memory.js';

export interface Subscription {
  readonly userdata: bigint;
  readonly type: number;
  /** Clock subscriptions. */
  readonly clockId: number;
  readonly timeout: bigint;
  readonly absolute: boolean;
  /** fd_read / fd_write subscriptions. */
  readonly fd: number;
}

/** How one subscription became ready. */
export interface ReadyEvent {
  readonly index: number;
  readonly error: number;
  readonly flags: number;
  readonly nbytes: bigint;
}

const EVENT_RECORD_SIZE = 16;
/** Long sleeps are cut in slices so that a worker being terminated is not held up. */
const SLEEP_SLICE_MS = 50;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function readSubscriptions(memory: GuestMemory, ptr: number, count: number): Subscription[] {
  const subscriptions: Subscription[] = [];
  for (let i = 0; i < count; i++) {
    const at = ptr + i * Layout.SUBSCRIPTION_SIZE;
    const type = memory.u8(at + 8);
    if (type === EventType.CLOCK) {
      subscriptions.push({
        userdata: memory.u64(at),
        type,
        clockId: memory.u32(at + 16),
        timeout: memory.u64(at + 24),
        absolute: (memory.u16(at + 40) & SubclockFlags.ABSTIME) !== 0,
        fd: 0,
      });
    } else if (type === EventType.FD_READ || type === EventType.FD_WRITE) {
      subscriptions.push({ userdata: memory.u64(at), type, clockId: 0, timeout: 0n, absolute: false, fd: memory.u32(at + 16) });
    } else throw new SyscallError(Errno.INVAL);
  }
  return subscriptions;
}

/** The gate kind: every subscription, in order (userdata excluded: it is the guest's cookie). */
export function pollKind(subscriptions: readonly Subscription[]): string {
  const parts = subscriptions.map((s) =>
    s.type === EventType.CLOCK
      ? `clock(id=${s.clockId} timeout=${s.timeout} abs=${s.absolute ? 1 : 0})`
      : `${s.type === EventType.FD_READ ? 'fd_read' : 'fd_write'}(fd=${s.fd})`,
  );
  return `poll_oneoff ${parts.join(' ')}`;
}

/**
 * Waits for real until a subscription is ready and encodes the ready ones. `fdEvent` says how an
 * fd subscription is ready now (every descriptor of this layer is always ready, or bad).
 */
export function livePoll(subscriptions: readonly Subscription[], fdEvent: (index: number, fd: number) => ReadyEvent): Uint8Array {
  const ready: ReadyEvent[] = [];
  const waiting: { index: number; left: bigint }[] = [];
  subscriptions.forEach((s, index) => {
    if (s.type !== EventType.CLOCK) ready.push(fdEvent(index, s.fd));
    else if (!isClockId(s.clockId)) ready.push({ index, error: Errno.INVAL, flags: 0, nbytes: 0n });
    else {
      const left = s.absolute ? s.timeout - liveClock(s.clockId) : s.timeout;
      if (left <= 0n) ready.push({ index, error: Errno.SUCCESS, flags: 0, nbytes: 0n });
      else waiting.push({ index, left });
    }
  });
  if (ready.length === 0 && waiting.length > 0) {
    // biome-ignore lint/complexity/useMathMinMax: the values are bigints, which Math.min does not take
    const soonest = waiting.reduce((min, w) => (w.left < min ? w.left : min), waiting[0]?.left ?? 0n);
    sleep(soonest);
    for (const w of waiting) if (w.left === soonest) ready.push({ index: w.index, error: Errno.SUCCESS, flags: 0, nbytes: 0n });
  }
  return encodeEvents(ready);
}

function sleep(nanoseconds: bigint): void {
  const deadline = process.hrtime.bigint() + nanoseconds;
  for (;;) {
    const left = deadline - process.hrtime.bigint();
    if (left <= 0n) return;
    Atomics.wait(sleeper, 0, 0, Math.min(SLEEP_SLICE_MS, Number(left) / 1e6));
  }
}

function encodeEvents(events: readonly ReadyEvent[]): Uint8Array {
  const bytes = new Uint8Array(events.length * EVENT_RECORD_SIZE);
  const view = new DataView(bytes.buffer);
  events.forEach((event, i) => {
    const at = i * EVENT_RECORD_SIZE;
    view.setUint32(at, event.index, true);
    view.setUint16(at + 4, event.error, true);
    view.setUint16(at + 6, event.flags, true);
    view.setBigUint64(at + 8, BigInt.asUintN(64, event.nbytes), true);
  });
  return bytes;
}

/**
 * Writes the events of `payload` for `subscriptions` at `out` (room for one event per
 * subscription, already checked); returns how many. Records naming no subscription are skipped.
 */
export function writeEvents(memory: GuestMemory, subscriptions: readonly Subscription[], payload: Uint8Array, out: number): number {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let written = 0;
  for (let at = 0; at + EVENT_RECORD_SIZE <= payload.length && written < subscriptions.length; at += EVENT_RECORD_SIZE) {
    const subscription = subscriptions[view.getUint32(at, true)];
    if (!subscription) continue;
    const event = out + written * Layout.EVENT_SIZE;
    memory.setU64(event, subscription.userdata);
    memory.setU16(event + 8, view.getUint16(at + 4, true));
    memory.setU8(event + 10, subscription.type);
    const isFd = subscription.type !== EventType.CLOCK;
    memory.setU64(event + 16, isFd ? view.getBigUint64(at + 8, true) : 0n);
    memory.setU16(event + 24, isFd ? view.getUint16(at + 6, true) : 0);
    written++;
  }
  return written;
}
