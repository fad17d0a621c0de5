/*
 * spin — a runaway guest: loops forever and never makes a syscall.
 *
 * Exercises: the driver's runaway handling (epoch budget / watchdog) for a guest that never
 * yields through WASI, produces no output and never touches new memory. The counter is volatile
 * so every iteration is a real load and store that the compiler cannot remove.
 *
 * Usage: spin
 */
#include <stdint.h>

int main(void) {
  volatile uint64_t counter = 0;
  for (;;) counter++;
}
