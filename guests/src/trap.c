/*
 * trap — does some work, prints a checksum of it, then ends the way argv[1] says.
 *
 * Exercises: the three wasm traps a C program commonly hits after it has produced output and
 * state (so epochs exist before the end): `trap` executes `unreachable`, `div0` an integer
 * division by zero, `oob` a load past the end of linear memory; a number N instead exits with
 * code N through proc_exit.
 *
 * Usage: trap <trap|div0|oob|exit-code 0-255> [work-iterations=3000000]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define USAGE "trap <trap|div0|oob|exit-code 0-255> [work-iterations=3000000]"

/* An xorshift walk: real work whose result the compiler cannot precompute. */
static uint32_t work(uint32_t iterations) {
  uint32_t x = 2463534242u;
  for (uint32_t i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
  }
  return x;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) usage_exit(USAGE);
  const char *mode = argv[1];
  int is_trap = strcmp(mode, "trap") == 0, is_div0 = strcmp(mode, "div0") == 0,
      is_oob = strcmp(mode, "oob") == 0;
  int code = is_trap || is_div0 || is_oob ? 0 : (int)arg_uint(argc, argv, 1, 0, 255, USAGE);
  uint32_t iterations = (uint32_t)arg_uint(argc, argv, 2, 3000000, UINT32_MAX, USAGE);

  printf("work %u iterations: checksum %08x\n", iterations, work(iterations));
  printf("ending with %s\n", mode);
  fflush(stdout); /* the output must be out before the trap, which skips exit-time flushing */

  if (is_trap) __builtin_trap();
  if (is_div0) {
    /* Both operands volatile: with a constant numerator the optimizer rewrites 1 / x as a
     * compare-and-select, and the division (and its trap) would vanish. */
    volatile int numerator = 1, zero = 0;
    printf("unreachable: %d\n", numerator / zero);
  }
  if (is_oob) {
    volatile uint8_t *beyond = (volatile uint8_t *)(uintptr_t)0xfffffff0u;
    printf("unreachable: %d\n", *beyond);
  }
  exit(code);
}
