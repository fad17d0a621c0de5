/*
 * leak — a guest with a memory leak: every step allocates more and never frees it.
 *
 * Exercises: steady memory growth (memory.grow, pages that appear epoch after epoch and are all
 * written, so they differ from zero pages), the memory-trend analysis, and a clean out-of-memory
 * end: when malloc returns NULL the guest says so on stderr and exits 3 instead of trapping.
 *
 * Usage: leak [steps=16] [kib-per-step=1024]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "guest.h"

#define USAGE "leak [steps=16] [kib-per-step=1024]"

enum { PAGE = 4096 };

/* Blocks are chained through their first bytes from a global, so none is unreachable garbage
 * that the compiler could drop: the leak is real. */
static void *leaked;

int main(int argc, char **argv) {
  if (argc > 3) usage_exit(USAGE);
  uint32_t steps = (uint32_t)arg_uint(argc, argv, 1, 16, UINT32_MAX, USAGE);
  /* At most 4 GiB per step: a single step must be expressible in wasm32's address space. */
  size_t kib = (size_t)arg_uint(argc, argv, 2, 1024, 4u * 1024 * 1024 - 1, USAGE);
  size_t bytes = kib * 1024 < sizeof(void *) ? sizeof(void *) : kib * 1024;
  setvbuf(stdout, NULL, _IOLBF, 0); /* one output chunk per step, even into a pipe */
  uint64_t held_kib = 0;
  for (uint32_t step = 1; step <= steps; step++) {
    unsigned char *block = malloc(bytes);
    if (block == NULL) {
      fprintf(stderr,
              "leak: out of memory at step %u: malloc(%zu KiB) failed with %llu KiB already "
              "leaked\n",
              step, kib, (unsigned long long)held_kib);
      return 3;
    }
    for (size_t at = 0; at < bytes; at += PAGE) block[at] = (unsigned char)step;
    block[bytes - 1] = (unsigned char)step;
    *(void **)block = leaked;
    leaked = block;
    held_kib += kib;
    printf("step %u: +%zu KiB, %llu KiB leaked\n", step, kib, (unsigned long long)held_kib);
  }
  return 0;
}
