/* Byte loops like a compressor's: CRC-32, and LZ77 with a hash table of earlier positions (the
   scheme of LZ4 and zlib's fast mode): hash 4 bytes, look up a candidate, extend the match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned crc_table[256];

static unsigned crc32(const unsigned char *p, size_t n) {
  unsigned c = 0xffffffffu;
  while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

#define HASH_BITS 14

static unsigned read32(const unsigned char *p) {
  unsigned v;
  memcpy(&v, p, 4);
  return v;
}

/* Compressed size in bytes: 1 per literal, 3 per match. */
static size_t lz_size(const unsigned char *p, size_t n, unsigned *table) {
  size_t size = 0, i = 0;
  memset(table, 0xff, sizeof(unsigned) << HASH_BITS);
  while (i + 4 <= n) {
    unsigned h = (read32(p + i) * 2654435761u) >> (32 - HASH_BITS), candidate = table[h];
    table[h] = (unsigned)i;
    if (candidate != 0xffffffffu && i - candidate < 65536 && read32(p + candidate) == read32(p + i)) {
      size_t length = 4;
      while (i + length < n && p[candidate + length] == p[i + length]) length++;
      size += 3;
      i += length;
    } else {
      size += 1;
      i += 1;
    }
  }
  return size + (n - i);
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 1000000;
  for (unsigned i = 0; i < 256; i++) {
    unsigned c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  unsigned char *buf = malloc(n);
  unsigned *table = malloc(sizeof(unsigned) << HASH_BITS);
  unsigned seed = 7;
  /* Text-like data: a small alphabet with repeats, so matches exist. */
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    buf[i] = (seed >> 16) % 7 == 0 && i > 16 ? buf[i - 16] : 'a' + (seed >> 20) % 12;
  }
  unsigned crc = 0;
  size_t compressed = 0;
  for (int round = 0; round < 10; round++) {
    crc ^= crc32(buf, n);
    compressed += lz_size(buf, n, table);
  }
  printf("bytes %u %zu\n", crc, compressed);
  free(table);
  free(buf);
  return 0;
}
