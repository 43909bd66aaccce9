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
