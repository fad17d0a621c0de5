/*
 * stdin_sum — a streaming filter: reads one integer per line from stdin and prints the running
 * sum after each, so it can sit in a pipeline (`seq 1 1000 | shadowvm run stdin_sum.wasm`).
 *
 * Exercises: many small fd_read / fd_write calls spread over the run (stdout is line buffered,
 * so every line is its own write), input replication line by line, and a guest whose output
 * depends only on its stdin. Blank lines are skipped; a line that is not an integer is reported
 * on stderr and skipped, so one bad record does not end the stream.
 *
 * Usage: stdin_sum
 * Output: "<line>\t<value>\t<running sum>" per number, then "total <sum> over <n> numbers".
 * Exit codes: 0 done, 1 the sum overflowed 64 bits, 2 bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) usage_exit("stdin_sum < numbers.txt");
  setvbuf(stdout, NULL, _IOLBF, 0);
  char *line = NULL;
  size_t line_cap = 0;
  uint64_t line_number = 0, numbers = 0;
  int64_t sum = 0;
  while (getline(&line, &line_cap, stdin) != -1) {
    line_number++;
    line[strcspn(line, "\r\n")] = '\0';
    const char *text = line + strspn(line, " \t");
    if (*text == '\0') continue;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (end == text || end[strspn(end, " \t")] != '\0' || errno != 0) {
      fprintf(stderr, "stdin_sum: line %llu: not a 64-bit integer, skipped: '%s'\n",
              (unsigned long long)line_number, line);
      continue;
    }
    if (__builtin_add_overflow(sum, value, &sum)) {
      fprintf(stderr, "stdin_sum: line %llu: the sum overflows 64 bits\n",
              (unsigned long long)line_number);
      return 1;
    }
    numbers++;
    printf("%llu\t%lld\t%lld\n", (unsigned long long)line_number, value, (long long)sum);
  }
  free(line);
  printf("total %lld over %llu numbers\n", (long long)sum, (unsigned long long)numbers);
  return 0;
}
