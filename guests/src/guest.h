/*
 * Helpers shared by the guest programs (a header, not a guest: build.sh compiles only *.c).
 *
 * Why: atoi() turns a typo into 0 silently, and a guest that quietly runs with the wrong size
 * makes a driver test prove nothing. Every guest parses its arguments through arg_uint, which
 * stops with the guest's usage line (exit 2) instead.
 */
#ifndef SHADOWVM_GUEST_H
#define SHADOWVM_GUEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static inline _Noreturn void usage_exit(const char *usage) {
  fprintf(stderr, "usage: %s\n", usage);
  exit(2);
}

/* argv[index] as a decimal integer in [0, max], or `fallback` when the argument is absent. */
static inline unsigned long long arg_uint(int argc, char **argv, int index,
                                          unsigned long long fallback, unsigned long long max,
                                          const char *usage) {
  if (index >= argc) return fallback;
  const char *text = argv[index];
  char *end = NULL;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || value > max) {
    fprintf(stderr, "%s: argument %d must be an integer from 0 to %llu, got '%s'\n", argv[0],
            index, max, text);
    usage_exit(usage);
  }
  return value;
}

#endif
