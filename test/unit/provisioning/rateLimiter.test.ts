import { openTestStore } from '../../support/testStore';
import { appInputSchema, type DirectoryApp } from '../../../src/directory/model';
import type { RateLimit } from '../../../src/directory/targetSettings';
import type { DirectoryStore } from '../../../src/directory/store';
import { RateLimiter } from '../../../src/provisioning/rateLimiter';
import { ScimError } from '../../../src/scim/errors';

/** 600 writes a minute: one every 100 ms, after a burst of 3. */
const LIMIT: RateLimit = { requestsPerMinute: 600, burst: 3, applies: 'writes' };
const SPACING = 100;
/** Timers fire a little late, never early; the store's slots are exact. */
const LATE = 90;

const write = { method: 'POST', path: '/Users' };
const read = { method: 'GET', path: '/Users' };

const tooManyRequests = (retryAfterMs?: number) =>
  new ScimError('rate-limited', 'POST /Users answered 429', {
    status: 429,
    retryAfterMs,
    method: 'POST',
    path: '/Users',
  });

describe('RateLimiter: an app’s requests paced to its limit, across every process sharing the directory', () => {
  let store: DirectoryStore;
  let app: DirectoryApp;
  beforeEach(async () => {
    store = await openTestStore();
    app = await store.createApp(
      appInputSchema.parse({
        name: 'Slackish',
        baseUrl: 'https://slackish.example.com/scim/v2',
        auth: { type: 'bearer', token: 't' },
        rateLimit: LIMIT,
      }),
    );
  });
  afterEach(() => store.close());

  /** A fake target: records when each request was sent, answers what `answers` says (default: ok). */
  function target(answers: (() => Promise<string>)[] = []) {
    const sentAt: number[] = [];
    const request = () => {
      sentAt.push(Date.now());
      return answers.shift()?.() ?? Promise.resolve('ok');
    };
    return { sentAt, request };
  }

  test('given an app limited to 600 writes a minute with a burst of 3, when 8 writes are asked at once, then 3 go at once and the others 100 ms apart', async () => {
    const limiter = new RateLimiter(store);
    const { sentAt, request } = target();
    const start = Date.now();

    await Promise.all(Array.from({ length: 8 }, () => limiter.send(app, write, request)));

    const offsets = sentAt.map((at) => at - start).sort((a, b) => a - b);
    expect(offsets.slice(0, 3).every((offset) => offset < LATE)).toBe(true);
    for (let i = 3; i < 8; i++) {
      expect(offsets[i]).toBeGreaterThanOrEqual((i - 2) * SPACING - 2);
      expect(offsets[i]).toBeLessThan((i - 2) * SPACING + LATE);
    }
  });

  test('given two processes on one directory, when each asks for 4 writes at once, then together they keep to the one limit', async () => {
    const processA = new RateLimiter(store);
    const processB = new RateLimiter(store);
    const { sentAt, request } = target();
    const start = Date.now();

    await Promise.all([
      ...Array.from({ length: 4 }, () => processA.send(app, write, request)),
      ...Array.from({ length: 4 }, () => processB.send(app, write, request)),
    ]);

    const offsets = sentAt.map((at) => at - start).sort((a, b) => a - b);
    // 8 writes: a burst of 3, then 5 more spaced 100 ms: the last no sooner than 500 ms in.
    expect(offsets[7]).toBeGreaterThanOrEqual(5 * SPACING - 2);
    // Never sooner than the shared schedule allows (a late timer may bring two sends closer, never earlier).
    for (let i = 3; i < 8; i++) expect(offsets[i]).toBeGreaterThanOrEqual((i - 2) * SPACING - 2);
  });

  test('given process A’s write was answered 429 with Retry-After 1 s, when process B then sends a write, then B waits for the pause too, and A’s write is sent again after it', async () => {
    const processA = new RateLimiter(store);
    const processB = new RateLimiter(store);
    const targetA = target([() => Promise.reject(tooManyRequests(1_000))]);
    const targetB = target();
    const start = Date.now();

    const sendA = processA.send(app, write, targetA.request);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const answers = await Promise.all([sendA, processB.send(app, write, targetB.request)]);

    expect(answers).toEqual(['ok', 'ok']);
    expect(targetA.sentAt).toHaveLength(2);
    expect(targetA.sentAt[1] - start).toBeGreaterThanOrEqual(1_000);
    expect(targetB.sentAt).toHaveLength(1);
    expect(targetB.sentAt[0] - start).toBeGreaterThanOrEqual(1_000);
  });

  test('given a limit on writes, when reads are asked, then they go at once and take no slot; while a pause is on, they wait for it', async () => {
    const limiter = new RateLimiter(store);
    const { sentAt, request } = target();

    const before = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => limiter.send(app, read, request)));
    expect(sentAt.every((at) => at - before < LATE)).toBe(true);
    // The reads took no slot: the whole burst is still there.
    const now = Date.now();
    const slots = await Promise.all([1, 2, 3].map(() => store.reserveSlot(app.id, SPACING, 3, now)));
    expect(slots.every((slot) => slot <= now)).toBe(true);

    await store.pauseBucket(app.id, Date.now() + 500);
    const otherProcess = new RateLimiter(store);
    const paused = Date.now();
    await otherProcess.send(app, read, request);
    expect(sentAt[5] - paused).toBeGreaterThanOrEqual(480);
  });

  test('given an app without a rate limit, then its requests go at once and the store is never asked', async () => {
    const unlimited = { ...app, rateLimit: null };
    const untouchable = new Proxy(store, {
      get: () => {
        throw new Error('the store was asked');
      },
    });
    const limiter = new RateLimiter(untouchable);
    const { sentAt, request } = target();

    await Promise.all(Array.from({ length: 20 }, () => limiter.send(unlimited, write, request)));

    expect(sentAt).toHaveLength(20);
  });

  test('given the app asks for a pause longer than a request may be held, when a write is answered 429, then it is not sent again here: the 429 goes to the activity’s retry', async () => {
    const limiter = new RateLimiter(store, { maxHoldMs: 2_000 });
    const { sentAt, request } = target([() => Promise.reject(tooManyRequests(60_000))]);

    await expect(limiter.send(app, write, request)).rejects.toMatchObject({
      kind: 'rate-limited',
      details: { status: 429, retryAfterMs: 60_000 },
    });
    expect(sentAt).toHaveLength(1);
    // Every later write of the app waits: here longer than it may, so it fails unsent, saying for how long.
    const error = (await limiter.send(app, write, request).catch((e: unknown) => e)) as ScimError;
    expect(error.kind).toBe('rate-limited');
    expect(error.details.status).toBeUndefined();
    expect(error.details.retryAfterMs).toBeGreaterThan(50_000);
    expect(sentAt).toHaveLength(1);
  });

  test('given a 429 without Retry-After and a short hold, then the 429 is thrown with the default pause as its Retry-After', async () => {
    const limiter = new RateLimiter(store, { maxHoldMs: 2_000 });
    const { request } = target([() => Promise.reject(tooManyRequests())]);

    await expect(limiter.send(app, write, request)).rejects.toMatchObject({
      details: { status: 429, retryAfterMs: 30_000 },
    });
    expect(await store.bucketPausedUntil(app.id)).toBeGreaterThan(Date.now() + 25_000);
  });

  test('given the app answers 429 four times in a row, then the write is sent again three times after each pause, and the fourth 429 is thrown', async () => {
    const limiter = new RateLimiter(store);
    const { sentAt, request } = target(
      Array.from({ length: 4 }, () => () => Promise.reject(tooManyRequests(100))),
    );

    await expect(limiter.send(app, write, request)).rejects.toMatchObject({ details: { status: 429 } });

    expect(sentAt).toHaveLength(4);
    for (let i = 1; i < 4; i++) expect(sentAt[i] - sentAt[i - 1]).toBeGreaterThanOrEqual(98);
  });

  test('given other failures (a 503), then they are thrown at once, without a pause', async () => {
    const limiter = new RateLimiter(store);
    const unavailable = new ScimError('transient', 'POST /Users answered 503', { status: 503 });
    const { sentAt, request } = target([() => Promise.reject(unavailable)]);

    await expect(limiter.send(app, write, request)).rejects.toBe(unavailable);
    expect(sentAt).toHaveLength(1);
    expect(await store.bucketPausedUntil(app.id)).toBe(0);
  });
});
