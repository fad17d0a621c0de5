/* Tight floating-point loops: a Mandelbrot set, counted by escape iterations. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int size = argc > 1 ? atoi(argv[1]) : 600;
  unsigned long long total = 0;
  for (int y = 0; y < size; y++) {
    for (int x = 0; x < size; x++) {
      double cr = 3.0 * x / size - 2.0, ci = 3.0 * y / size - 1.5, zr = 0, zi = 0;
      int i = 0;
      while (i < 200 && zr * zr + zi * zi < 4.0) {
        double t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        i++;
      }
      total += i;
    }
  }
  printf("numeric %llu\n", total);
  return 0;
}
