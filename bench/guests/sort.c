/* Sorting: libc qsort through a comparator pointer, and an insertion sort of small runs. */
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
  unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
  return (x > y) - (x < y);
}

static void insertion_sort(unsigned *v, int n) {
  for (int i = 1; i < n; i++) {
    unsigned key = v[i];
    int j = i - 1;
    while (j >= 0 && v[j] > key) {
      v[j + 1] = v[j];
      j--;
    }
    v[j + 1] = key;
  }
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 400000;
  unsigned *v = malloc(n * sizeof *v), seed = 1, check = 0;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < n; i++) v[i] = seed = seed * 1103515245u + 12345u;
    qsort(v, n, sizeof *v, compare);
    for (int i = 0; i < n; i += 97) check = check * 31 + v[i];
    for (int i = 0; i < n; i++) v[i] = seed = seed * 1103515245u + 12345u;
    for (int at = 0; at + 64 <= n; at += 64) insertion_sort(v + at, 64);
    for (int i = 0; i < n; i += 89) check = check * 31 + v[i];
  }
  printf("sort %u\n", check);
  free(v);
  return 0;
}
