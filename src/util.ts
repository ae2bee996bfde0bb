// Small helpers shared by the gateway, its scripts, the board, the tests and the benchmarks.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * At most `limit` callers inside run() at once. The others wait in one queue per
 * owner (API key), and owners take turns: a key with 300 reads queued delays
 * another key's read by one turn, not by its whole queue. Used for the feed's
 * replays and for the database pools' connections.
 */
export class Turns {
  private active = 0;
  /** In the order owners take their turns (a Map iterates in insertion order). */
  private readonly waiting = new Map<string | null, (() => void)[]>();
  constructor(private readonly limit: number) {}

  async run<T>(owner: string | null, fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(owner);
        if (queue) queue.push(resolve); else this.waiting.set(owner, [resolve]);
      });
    }
    try {
      return await fn();
    } finally {
      this.handOver();
    }
  }

  private handOver(): void {
    const turn = this.waiting.entries().next();
    if (turn.done) {
      this.active--;
      return;
    }
    const [owner, queue] = turn.value;
    this.waiting.delete(owner);
    if (queue.length > 1) this.waiting.set(owner, queue); // to the back of the turns
    queue.shift()!(); // takes the slot over
  }
}
