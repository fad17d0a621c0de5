/*
 * io — touches every nondeterministic input a WASI guest can take, and shows each one on stdout,
 * so that a replayed shadow whose inputs are not replicated exactly prints something different.
 *
 * Exercises: fd_read on stdin (echoed uppercased, with byte and line counts), clock_time_get on
 * CLOCK_REALTIME and CLOCK_MONOTONIC, random_get through getentropy and arc4random_buf,
 * path_open + fd_read on a file in the read-only preopened dir /input, path_open + fd_write of
 * /scratch/out.txt, and poll_oneoff through a 5 ms nanosleep.
 *
 * Usage: io [name]   (reads /input/<name> when given; /input and /scratch must be preopened)
 * Exit codes: 0 done, 1 a file could not be read or written, 2 bad arguments.
 */
#define _BSD_SOURCE /* arc4random_buf */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

#define USAGE "io [name-of-a-file-in-/input]"

typedef struct {
  unsigned char *bytes;
  size_t len;
} buffer_t;

static _Noreturn void fail(const char *action, const char *path) {
  fprintf(stderr, "io: cannot %s %s: %s\n", action, path, strerror(errno));
  exit(1);
}

static buffer_t read_all(FILE *file, const char *path) {
  buffer_t buffer = {NULL, 0};
  size_t cap = 0;
  for (;;) {
    if (buffer.len == cap) {
      cap = cap ? cap * 2 : 4096;
      buffer.bytes = realloc(buffer.bytes, cap);
      if (buffer.bytes == NULL) {
        fprintf(stderr, "io: out of memory reading %s\n", path);
        exit(1);
      }
    }
    size_t got = fread(buffer.bytes + buffer.len, 1, cap - buffer.len, file);
    buffer.len += got;
    if (got == 0) break;
  }
  if (ferror(file)) fail("read", path);
  return buffer;
}

/* FNV-1a, 64-bit: enough to show on one line that a file's bytes are the same. */
static uint64_t fnv1a(const buffer_t *buffer) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < buffer->len; i++) hash = (hash ^ buffer->bytes[i]) * 0x100000001b3ULL;
  return hash;
}

static void print_hex(const char *label, const unsigned char *bytes, size_t len) {
  printf("%s ", label);
  for (size_t i = 0; i < len; i++) printf("%02x", bytes[i]);
  printf("\n");
}

static void print_clock(const char *label, clockid_t clock) {
  struct timespec now;
  if (clock_gettime(clock, &now) != 0) fail("read clock", label);
  printf("%s %lld.%09ld\n", label, (long long)now.tv_sec, (long)now.tv_nsec);
}

static size_t echo_stdin_uppercased(void) {
  buffer_t input = read_all(stdin, "stdin");
  size_t lines = 0;
  for (size_t i = 0; i < input.len; i++) {
    unsigned char c = input.bytes[i];
    if (c == '\n') lines++;
    putchar(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  printf("stdin: %zu bytes, %zu lines\n", input.len, lines);
  free(input.bytes);
  return lines;
}

static int64_t monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc > 2) usage_exit(USAGE);

  size_t stdin_lines = echo_stdin_uppercased();

  print_clock("realtime", CLOCK_REALTIME);
  print_clock("monotonic", CLOCK_MONOTONIC);

  unsigned char entropy[16], arc4[16];
  if (getentropy(entropy, sizeof entropy) != 0) fail("read", "entropy");
  arc4random_buf(arc4, sizeof arc4);
  print_hex("getentropy", entropy, sizeof entropy);
  print_hex("arc4random", arc4, sizeof arc4);

  int64_t before = monotonic_ns();
  struct timespec nap = {0, 5 * 1000 * 1000};
  nanosleep(&nap, NULL);
  printf("slept %lld ns\n", (long long)(monotonic_ns() - before));

  char summary[256];
  if (argc == 2) {
    char path[512];
    snprintf(path, sizeof path, "/input/%s", argv[1]);
    FILE *file = fopen(path, "rb");
    if (file == NULL) fail("open", path);
    buffer_t content = read_all(file, path);
    fclose(file);
    snprintf(summary, sizeof summary, "%s: %zu bytes, fnv1a %016llx", path, content.len,
             (unsigned long long)fnv1a(&content));
    free(content.bytes);
  } else {
    snprintf(summary, sizeof summary, "no input file");
  }
  printf("input %s\n", summary);

  const char *out_path = "/scratch/out.txt";
  FILE *out = fopen(out_path, "wb");
  if (out == NULL) fail("create", out_path);
  int written = fprintf(out, "io: %zu stdin lines; %s; entropy ", stdin_lines, summary);
  for (size_t i = 0; i < sizeof entropy; i++) written += fprintf(out, "%02x", entropy[i]);
  written += fprintf(out, "\n");
  if (fclose(out) != 0 || written < 0) fail("write", out_path);
  printf("wrote %s (%d bytes)\n", out_path, written);
  return 0;
}
