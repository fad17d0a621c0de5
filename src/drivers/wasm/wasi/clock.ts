// The guest's clocks. Reading one is a nondeterministic input: it goes through the gate as an
// 8-byte payload (nanoseconds, little-endian).

import { ClockId } from './abi.js';
import type { InputGate } from './gate.js';
import { decodeU64, encodeU64 } from './payload.js';

/** What clock_res_get reports for every clock: a constant, so it is configuration, not an input. */
export const CLOCK_RESOLUTION_NS = 1000n;

// Wall time with hrtime's resolution: Date gives the epoch once, hrtime the progress since.
const realtimeOffset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function isClockId(id: number): boolean {
  return id <= ClockId.THREAD_CPUTIME;
}

/** The host's reading of clock `id` (a valid id), in nanoseconds. */
export function liveClock(id: number): bigint {
  switch (id) {
    case ClockId.REALTIME:
      return realtimeOffset + process.hrtime.bigint();
    case ClockId.MONOTONIC:
      return process.hrtime.bigint();
    default: {
      // Node has no per-thread CPU clock before v23: both CPU clocks read the process's.
      const usage = process.cpuUsage();
      return BigInt(usage.user + usage.system) * 1000n;
    }
  }
}

/** Clock `id` (a valid id) as the gate answers it. */
export function takeClock(gate: InputGate, id: number): bigint {
  return decodeU64(gate.take(`clock_time_get id=${id}`, () => encodeU64(liveClock(id))));
}
