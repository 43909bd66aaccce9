import { Limiter } from '../../../src/provisioning/concurrency';

/** A task that runs until the test lets it finish. */
function gatedTask(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { run: async () => (log.push(`start ${name}`), await done, name), finish };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Limiter: at most N tasks at a time, in arrival order', () => {
  test('given a limiter of 2, when 4 tasks start at once, then 2 run and the others start in order as slots free up', async () => {
    const limiter = new Limiter(2);
    const log: string[] = [];
    const tasks = ['a', 'b', 'c', 'd'].map((name) => gatedTask(log, name));

    const results = tasks.map((task) => limiter.run(task.run));
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    expect([limiter.inFlight, limiter.queued]).toEqual([2, 2]);

    tasks[1].finish();
    await tick();
    expect(log).toEqual(['start a', 'start b', 'start c']);

    tasks[0].finish();
    tasks[2].finish();
    tasks[3].finish();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect([limiter.inFlight, limiter.queued]).toEqual([0, 0]);
  });

  test('given a full limiter, when a running task fails, then its slot goes to the next task and the failure reaches its caller only', async () => {
    const limiter = new Limiter(1);
    const failing = limiter.run(async () => {
      throw new Error('503');
    });
    const next = limiter.run(async () => 'next');

    await expect(failing).rejects.toThrow('503');
    await expect(next).resolves.toBe('next');
    expect(limiter.inFlight).toBe(0);
  });

  test('given many callers sharing one limiter, when 100 tasks run, then never more than the capacity run at once', async () => {
    const limiter = new Limiter(7);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        limiter.run(async () => {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setTimeout(resolve, i % 3));
          running--;
        }),
      ),
    );
    expect(peak).toBe(7);
  });

  test('a limiter needs room for one task', () => {
    expect(() => new Limiter(0)).toThrow('at least 1');
  });
});
