/* Byte loops like a compressor's: CRC-32 and a run-length + LZ-style match search over a buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned crc_table[256];

static unsigned crc32(const unsigned char *p, size_t n) {
  unsigned c = 0xffffffffu;
  while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

/* Longest earlier match within a window, greedy: the inner loop of an LZ77 compressor. */
static size_t lz_cost(const unsigned char *p, size_t n) {
  size_t cost = 0, i = 0;
  while (i < n) {
    size_t best = 0, from = i > 64 ? i - 64 : 0;
    for (size_t j = from; j < i; j++) {
      size_t k = 0;
      while (i + k < n && k < 32 && p[j + k] == p[i + k]) k++;
      if (k > best) best = k;
    }
    cost += best >= 3 ? 2 : 1;
    i += best >= 3 ? best : 1;
  }
  return cost;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 400000;
  for (unsigned i = 0; i < 256; i++) {
    unsigned c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  unsigned char *buf = malloc(n);
  unsigned seed = 7;
  /* Text-like data: a small alphabet with repeats, so matches exist. */
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    buf[i] = (seed >> 16) % 7 == 0 && i > 16 ? buf[i - 16] : 'a' + (seed >> 20) % 12;
  }
  unsigned crc = 0;
  for (int round = 0; round < 20; round++) crc ^= crc32(buf, n);
  printf("bytes %u %zu\n", crc, lz_cost(buf, n));
  free(buf);
  return 0;
}
