import { openTestStore } from '../../support/testStore';
import type { DirectoryStore } from '../../../src/directory/store';

/** 180 requests a minute: one every 333⅓ ms. */
const SPACING = 60_000 / 180;
const BURST = 5;
const T0 = 1_800_000_000_000;

describe('rate-limit buckets in the store: the slots every process shares for one app', () => {
  let store: DirectoryStore;
  beforeEach(async () => {
    store = await openTestStore();
  });
  afterEach(() => store.close());

  const reserve = (count: number, nowMs: number, bucket = 'slack') =>
    Promise.all(Array.from({ length: count }, () => store.reserveSlot(bucket, SPACING, BURST, nowMs)));

  test('given a bucket never used, when 8 requests ask at once, then the first 5 (the burst) may go now and the others one spacing apart after that', async () => {
    const slots = (await reserve(8, T0)).sort((a, b) => a - b);

    expect(slots.slice(0, BURST).every((slot) => slot <= T0)).toBe(true);
    expect(slots[5]).toBeCloseTo(T0 + SPACING, 1);
    expect(slots[6]).toBeCloseTo(T0 + 2 * SPACING, 1);
    expect(slots[7]).toBeCloseTo(T0 + 3 * SPACING, 1);
  });

  test('given the burst was spent, when requests keep coming, then each is given a slot one spacing after the previous one, whatever the time they ask', async () => {
    await reserve(BURST, T0);

    const first = await store.reserveSlot('slack', SPACING, BURST, T0 + 10);
    const second = await store.reserveSlot('slack', SPACING, BURST, T0 + 20);

    expect(first).toBeCloseTo(T0 + SPACING, 1);
    expect(second).toBeCloseTo(T0 + 2 * SPACING, 1);
  });

  test('given the burst was spent, when the bucket stays quiet for the time of a burst, then a full burst may go at once again', async () => {
    await reserve(BURST + 3, T0);
    const later = T0 + (BURST + 3) * SPACING + 1;

    const slots = (await reserve(BURST + 1, later)).sort((a, b) => a - b);

    expect(slots.slice(0, BURST).every((slot) => slot <= later)).toBe(true);
    expect(slots[BURST]).toBeGreaterThan(later);
    expect(slots[BURST]).toBeLessThanOrEqual(later + SPACING);
  });

  test('given a quiet spell shorter than a burst, then only the slots regained meanwhile may go at once', async () => {
    await reserve(BURST, T0);
    // Two spacings later, two slots have come back.
    const later = T0 + 2 * SPACING;

    const slots = (await reserve(3, later)).sort((a, b) => a - b);

    expect(slots[0]).toBeLessThanOrEqual(later);
    expect(slots[1]).toBeLessThanOrEqual(later);
    expect(slots[2]).toBeCloseTo(later + SPACING, 1);
  });

  test('given the app answered 429 with Retry-After 3 s, when requests ask during the pause, then none is given a slot before its end, and they go one spacing apart after it, with no burst', async () => {
    await store.pauseBucket('slack', T0 + 3_000);

    const slots = (await reserve(3, T0 + 100)).sort((a, b) => a - b);

    expect(slots[0]).toBeCloseTo(T0 + 3_000, 1);
    expect(slots[1]).toBeCloseTo(T0 + 3_000 + SPACING, 1);
    expect(slots[2]).toBeCloseTo(T0 + 3_000 + 2 * SPACING, 1);
    expect(await store.bucketPausedUntil('slack')).toBe(T0 + 3_000);
  });

  test('given slots were reserved far ahead, when a shorter pause comes, then later slots still follow the reserved ones', async () => {
    await reserve(BURST + 20, T0);
    await store.pauseBucket('slack', T0 + 1_000);

    const slot = await store.reserveSlot('slack', SPACING, BURST, T0 + 10);

    expect(slot).toBeCloseTo(T0 + 21 * SPACING, 1);
  });

  test('given two processes answered 429, when the shorter pause is recorded last, then the longer one holds', async () => {
    await store.pauseBucket('slack', T0 + 5_000);
    await store.pauseBucket('slack', T0 + 2_000);

    expect(await store.bucketPausedUntil('slack')).toBe(T0 + 5_000);
  });

  test('given a pause that has ended long ago, then it no longer holds requests back', async () => {
    await store.pauseBucket('slack', T0);
    const later = T0 + 60_000;

    const slots = await reserve(BURST, later);

    expect(slots.every((slot) => slot <= later)).toBe(true);
  });

  test('given two apps, then each has its own bucket, and an app never paused has no pause', async () => {
    await reserve(BURST + 2, T0, 'slack');
    await store.pauseBucket('slack', T0 + 9_000);

    expect(await store.reserveSlot('github', SPACING, BURST, T0)).toBeLessThanOrEqual(T0);
    expect(await store.bucketPausedUntil('github')).toBe(0);
    expect(await store.bucketPausedUntil('never-seen')).toBe(0);
  });

  test('given a burst of 1, then every request waits its spacing, the first one included only when one went before', async () => {
    const first = await store.reserveSlot('strict', SPACING, 1, T0);
    const second = await store.reserveSlot('strict', SPACING, 1, T0);

    expect(first).toBeCloseTo(T0, 1);
    expect(second).toBeCloseTo(T0 + SPACING, 1);
  });
});
