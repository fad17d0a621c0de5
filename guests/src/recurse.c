/*
 * recurse — deep and plentiful recursion with no loop in the hot functions.
 *
 * Exercises: instrumentation that counts function entries rather than loop back-edges (a guest
 * that runs for long without a single loop iteration must still advance epochs), and the wasm
 * call stack: Ackermann nests thousands of frames deep. `disable_tail_calls` stops the optimizer
 * from turning the self-calls into loops, which would defeat the purpose.
 *
 * Usage: recurse [fib-n=30] [ack-m=3] [ack-n=8]
 * Output: fib(n), ack(m, n), and how many calls each took.
 */
#include <stdint.h>
#include <stdio.h>

#include "guest.h"

#define USAGE "recurse [fib-n=30] [ack-m=3] [ack-n=8]"

static uint64_t calls;

__attribute__((noinline, disable_tail_calls)) static uint64_t fib(uint32_t n) {
  calls++;
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline, disable_tail_calls)) static uint32_t ack(uint32_t m, uint32_t n) {
  calls++;
  if (m == 0) return n + 1;
  if (n == 0) return ack(m - 1, 1);
  return ack(m - 1, ack(m, n - 1));
}

int main(int argc, char **argv) {
  if (argc > 4) usage_exit(USAGE);
  uint32_t fib_n = (uint32_t)arg_uint(argc, argv, 1, 30, 93, USAGE); /* fib(93) fits 64 bits */
  uint32_t ack_m = (uint32_t)arg_uint(argc, argv, 2, 3, 4, USAGE);
  uint32_t ack_n = (uint32_t)arg_uint(argc, argv, 3, 8, 1000000, USAGE);

  calls = 0;
  uint64_t f = fib(fib_n);
  printf("fib(%u) = %llu in %llu calls\n", fib_n, (unsigned long long)f,
         (unsigned long long)calls);
  calls = 0;
  uint32_t a = ack(ack_m, ack_n);
  printf("ack(%u, %u) = %u in %llu calls\n", ack_m, ack_n, a, (unsigned long long)calls);
  return 0;
}
