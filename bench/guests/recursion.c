/* Recursion: N-queens backtracking, a binary tree built and walked recursively, and a small
   call-heavy recursive function (the worst case for per-call counting). */
#include <stdio.h>
#include <stdlib.h>

static int queens(int n, int row, unsigned cols, unsigned d1, unsigned d2) {
  if (row == n) return 1;
  int count = 0;
  for (unsigned free = ~(cols | d1 | d2) & ((1u << n) - 1); free; free &= free - 1) {
    unsigned bit = free & -free;
    count += queens(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
  }
  return count;
}

struct node { struct node *left, *right; unsigned value; };

static struct node *build(int depth, unsigned *seed) {
  if (depth == 0) return NULL;
  struct node *n = malloc(sizeof *n);
  *seed = *seed * 1103515245u + 12345u;
  n->value = *seed >> 8;
  n->left = build(depth - 1, seed);
  n->right = build(depth - 1, seed);
  return n;
}

static unsigned walk(const struct node *n) {
  return n ? n->value ^ (walk(n->left) * 3 + walk(n->right)) : 0;
}

static void release(struct node *n) {
  if (!n) return;
  release(n->left);
  release(n->right);
  free(n);
}

__attribute__((noinline)) static unsigned fib_like(unsigned n) {
  return n < 2 ? n : (fib_like(n - 1) << 1) - fib_like(n - 2) + (n & 3);
}

int main(int argc, char **argv) {
  int scale = argc > 1 ? atoi(argv[1]) : 10;
  unsigned seed = 3, trees = 0;
  for (int i = 0; i < 4; i++) {
    struct node *root = build(scale + 8, &seed);
    trees ^= walk(root);
    release(root);
  }
  printf("recursion %d %u %u\n", queens(scale, 0, 0, 0, 0), trees, fib_like(scale + 18));
  return 0;
}
