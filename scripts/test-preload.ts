/**
 * Loaded by `bun test` before any test file (bunfig.toml): switches on the debug checks that
 * production leaves off, for the test process and every child it spawns.
 *   NEEDLE_DEBUG_ASSERTS=1: a kernel or block-search score that is not a finite number throws.
 */
process.env.NEEDLE_DEBUG_ASSERTS ??= "1";
