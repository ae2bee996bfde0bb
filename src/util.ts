// Small helpers shared by the gateway, its scripts, the board, the tests and the benchmarks.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
