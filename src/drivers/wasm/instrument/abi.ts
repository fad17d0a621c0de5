// The contract between an instrumented guest and the host that runs it: import and export names,
// and what the budget global means. The driver relies on these names, so they live in one place.

/**
 * Bumped whenever instrumentation output changes for the same input (algorithm, binaryen upgrade),
 * so cached results of an older algorithm are never reused.
 */
export const INSTRUMENTATION_VERSION = 2;

/** Module name of the imports the instrumentation adds. */
export const IMPORT_MODULE = 'shadowvm';

/**
 * `shadowvm.epoch: () -> ()`. Called when the budget is used up; the host pauses the guest, takes
 * its digest and sets `__shadowvm_budget` to the length of the next epoch before returning.
 */
export const EPOCH_IMPORT = 'epoch';

/**
 * `shadowvm.grow: (deltaPages: i32) -> i32`. Replaces every `memory.grow`: returns the old size
 * in 64 KiB pages, or -1 to refuse (the guest's malloc then fails like out-of-memory).
 */
export const GROW_IMPORT = 'grow';

/**
 * Exported mutable i32: guest events left before the next epoch call. Counts down by one per loop
 * iteration and per entry of a function that can recurse; a loop whose trip count the module fixes
 * (bounded-loops.ts) is charged all its iterations at entry instead. The epoch import is called
 * when it drops to 0 or below; it may then be negative by what a loop charged past the end of
 * the epoch, an overdraft the guest deducts from the next epoch's budget. It is exact at every import call and when an export returns (not after a
 * trap, which unwinds before the guest writes its cached count back).
 */
export const BUDGET_EXPORT = '__shadowvm_budget';

/** Budget before the host first sets it (only code run by a wasm start section sees it). */
export const BUDGET_INITIAL = 0x7fffffff;

/** Export name of the mutable global at `index` of the module's global index space. */
export function globalExportName(index: number): string {
  return `__shadowvm_g${index}`;
}
