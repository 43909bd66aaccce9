export interface Settled<R> {
  /** Per item, in the items' order: its result, or `undefined` when it failed or never started. */
  results: (R | undefined)[];
  /** The first failure, if any; after it no further item was started. */
  failure?: { error: unknown };
}

/**
 * Runs `work` over `items`, at most `limit` at a time, starting them in order. A failure stops further items
 * from starting and is answered once those in flight have finished, so no work outlives the call (a retried
 * activity never races its previous attempt's stragglers).
 */
export async function runLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<Settled<R>> {
  const settled: Settled<R> = { results: new Array<R | undefined>(items.length).fill(undefined) };
  let next = 0;
  const lane = async () => {
    while (!settled.failure && next < items.length) {
      const index = next++;
      try {
        settled.results[index] = await work(items[index]);
      } catch (error) {
        settled.failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return settled;
}

/**
 * At most `capacity` tasks at a time, whoever starts them; the others wait their turn in arrival order. Shared by
 * every caller that holds the same instance (e.g. all activities of one worker writing to one app).
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`a limiter needs a capacity of at least 1, not ${capacity}`);
  }

  /** Tasks running now. */
  get inFlight(): number {
    return this.active;
  }

  /** Tasks waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.capacity) this.active++;
    // The slot is handed over by `release` (active stays counted), so a newcomer cannot overtake the queue.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
