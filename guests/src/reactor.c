/*
 * reactor — a WASI reactor module: built with -mexec-model=reactor, it exports `_initialize` and
 * `add` but no `_start`.
 *
 * Exercises: the driver's "module has no _start export" error (a user passing a library module
 * where a command is expected must get a clear message, not a crash).
 */
#include <stdint.h>

__attribute__((export_name("add"))) int32_t add(int32_t a, int32_t b) { return a + b; }
