// The times a guest asks to set on a file (futimens/utimensat). "Now" reads the realtime clock,
// an input like any other clock reading.

import { ClockId, Errno, FstFlags } from './abi.js';
import { takeClock } from './clock.js';
import { SyscallError } from './errors.js';
import type { InputGate } from './gate.js';
import type { NewTimes } from './volume.js';

export function newTimes(gate: InputGate, atim: bigint, mtim: bigint, fstflags: number): NewTimes {
  const both = (set: number, now: number): boolean => (fstflags & set) !== 0 && (fstflags & now) !== 0;
  if (both(FstFlags.ATIM, FstFlags.ATIM_NOW) || both(FstFlags.MTIM, FstFlags.MTIM_NOW)) throw new SyscallError(Errno.INVAL);
  let now: bigint | undefined;
  const current = (): bigint => (now ??= takeClock(gate, ClockId.REALTIME));
  const pick = (value: bigint, set: number, setNow: number): bigint | undefined =>
    (fstflags & setNow) !== 0 ? current() : (fstflags & set) !== 0 ? BigInt.asUintN(64, value) : undefined;
  return { atim: pick(atim, FstFlags.ATIM, FstFlags.ATIM_NOW), mtim: pick(mtim, FstFlags.MTIM, FstFlags.MTIM_NOW) };
}
