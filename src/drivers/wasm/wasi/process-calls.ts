// The calls about the process rather than files: arguments, environment, clocks, randomness,
// waiting (poll_oneoff), exit; and the socket calls, which a guest without network cannot use.

import { randomFillSync } from 'node:crypto';
import { Errno, Layout } from './abi.js';
import { CLOCK_RESOLUTION_NS, isClockId, takeClock } from './clock.js';
import type { Syscall, WasiContext } from './context.js';
import { ProcExit, SyscallError } from './errors.js';
import { livePoll, pollKind, type ReadyEvent, readSubscriptions, writeEvents } from './poll.js';

const encoder = new TextEncoder();

/** NUL-terminated UTF-8 strings laid out as args_get/environ_get write them. */
function cStrings(values: readonly string[]): { strings: Uint8Array[]; size: number } {
  const strings = values.map((value) => encoder.encode(`${value}\0`));
  return { strings, size: strings.reduce((total, s) => total + s.length, 0) };
}

export function processCalls(
  { memory, fds, gate }: WasiContext,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Record<string, Syscall> {
  const argv = cStrings(args);
  const environ = cStrings(Object.entries(env).map(([name, value]) => `${name}=${value}`));

  const sizes =
    (list: typeof argv) =>
    (count: number, size: number): number => {
      memory.setU32(count, list.strings.length);
      memory.setU32(size, list.size);
      return Errno.SUCCESS;
    };
  const strings =
    (list: typeof argv) =>
    (pointers: number, buffer: number): number => {
      let at = buffer;
      list.strings.forEach((value, i) => {
        memory.setU32(pointers + i * 4, at);
        memory.write(at, value);
        at += value.length;
      });
      return Errno.SUCCESS;
    };

  /** Every descriptor of this layer is ready at once (reads block instead); a closed one is bad. */
  const fdEvent = (index: number, fd: number): ReadyEvent => {
    try {
      fds.get(fd);
      return { index, error: Errno.SUCCESS, flags: 0, nbytes: 0n };
    } catch {
      return { index, error: Errno.BADF, flags: 0, nbytes: 0n };
    }
  };

  const unsupported = (): number => Errno.NOTSUP;

  return {
    args_sizes_get: sizes(argv),
    args_get: strings(argv),
    environ_sizes_get: sizes(environ),
    environ_get: strings(environ),
    clock_res_get(id: number, resolution: number): number {
      if (!isClockId(id)) throw new SyscallError(Errno.INVAL);
      memory.setU64(resolution, CLOCK_RESOLUTION_NS);
      return Errno.SUCCESS;
    },
    clock_time_get(id: number, _precision: bigint, time: number): number {
      if (!isClockId(id)) throw new SyscallError(Errno.INVAL);
      memory.setU64(time, 0n); // a bad pointer fails before an input is taken for nothing
      memory.setU64(time, takeClock(gate, id));
      return Errno.SUCCESS;
    },
    random_get(buffer: number, length: number): number {
      memory.fill(buffer, length, 0);
      const payload = gate.take(`random_get len=${length}`, () => randomFillSync(new Uint8Array(length)));
      memory.write(buffer, payload.subarray(0, length));
      return Errno.SUCCESS;
    },
    poll_oneoff(subscriptionsPtr: number, eventsPtr: number, count: number, eventCount: number): number {
      if (count === 0) throw new SyscallError(Errno.INVAL);
      const subscriptions = readSubscriptions(memory, subscriptionsPtr, count);
      memory.fill(eventsPtr, count * Layout.EVENT_SIZE, 0);
      memory.setU32(eventCount, 0);
      const payload = gate.take(pollKind(subscriptions), () => livePoll(subscriptions, fdEvent));
      memory.setU32(eventCount, writeEvents(memory, subscriptions, payload, eventsPtr));
      return Errno.SUCCESS;
    },
    proc_exit(code: number): number {
      // Signed: a C program's exit(-1) arrives as 0xffffffff.
      throw new ProcExit(code | 0);
    },
    proc_raise: () => Errno.NOSYS,
    sched_yield: () => Errno.SUCCESS,
    sock_accept: unsupported,
    sock_recv: unsupported,
    sock_send: unsupported,
    sock_shutdown: unsupported,
  };
}
