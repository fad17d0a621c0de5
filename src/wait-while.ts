// Blocking waits on a shared flag that another thread changes and then notifies.

/**
 * Blocks until `flag[index]` is no longer `value`; false when `timeoutMs` passed first. A wake-up
 * alone proves nothing: the notify of an earlier exchange can land after the next one started
 * waiting (its flag was set, and read, before that notify ran), so the flag is checked again.
 */
export function waitWhile(flag: Int32Array, index: number, value: number, timeoutMs: number): boolean {
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(flag, index) === value) {
    const left = deadline - performance.now();
    if (left <= 0 || Atomics.wait(flag, index, value, left) === 'timed-out') return Atomics.load(flag, index) !== value;
  }
  return true;
}
