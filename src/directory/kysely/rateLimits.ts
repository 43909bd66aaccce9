import { sql } from 'kysely';
import type { RateLimitStore } from '../store';
import type { Db } from './tables';

/**
 * A bound time, typed for both databases: PostgreSQL cannot infer a parameter's type inside `greatest`-like
 * expressions, and SQLite reads `double precision` as REAL.
 */
const ms = (value: number) => sql<number>`cast(${value} as double precision)`;

/**
 * GCRA in its "virtual scheduling" form. `next_slot_ms` is the bucket's theoretical arrival time: the earliest a
 * request may go when no burst is left. A request arriving at `now` may use the burst, i.e. go as early as
 * `now - (burst - 1) × spacing` in virtual time; its slot is the latest of that, the stored next slot and the end
 * of any pause, and the next slot moves one spacing past it. So after a quiet spell the first `burst` requests get
 * slots ≤ now (they go at once) and each later one a slot `spacing` after the one before; a pause puts every slot
 * reserved after it at or past its end, and the first slots after a pause carry no burst (the app's own bucket is
 * empty by then). One upsert, atomic on both databases (a row lock on PostgreSQL, the write lock on SQLite), so no
 * two callers, in any processes, get the same slot.
 *
 * Greatest-of is written with CASE: SQLite spells it max(a, b), PostgreSQL greatest(a, b).
 */
export function rateLimitQueries(db: Db): RateLimitStore {
  return {
    async reserveSlot(bucket, spacingMs, burst, nowMs) {
      const earliest = nowMs - Math.max(0, burst - 1) * spacingMs;
      const row = await db
        .insertInto('rate_limits')
        .values({ bucket, next_slot_ms: ms(earliest + spacingMs), paused_until_ms: ms(0) })
        .onConflict((conflict) =>
          conflict.column('bucket').doUpdateSet({
            next_slot_ms: sql<number>`(case
              when rate_limits.next_slot_ms >= rate_limits.paused_until_ms and rate_limits.next_slot_ms >= ${ms(earliest)}
                then rate_limits.next_slot_ms
              when rate_limits.paused_until_ms >= ${ms(earliest)} then rate_limits.paused_until_ms
              else ${ms(earliest)}
            end) + ${ms(spacingMs)}`,
          }),
        )
        .returning('next_slot_ms')
        .executeTakeFirstOrThrow();
      return Number(row.next_slot_ms) - spacingMs;
    },

    async pauseBucket(bucket, untilMs) {
      await db
        .insertInto('rate_limits')
        .values({ bucket, next_slot_ms: ms(0), paused_until_ms: ms(untilMs) })
        .onConflict((conflict) =>
          conflict.column('bucket').doUpdateSet({
            // Two processes answered 429 at once: the later end wins, whichever wrote last.
            paused_until_ms: sql<number>`case when rate_limits.paused_until_ms >= ${ms(untilMs)}
              then rate_limits.paused_until_ms else ${ms(untilMs)} end`,
          }),
        )
        .execute();
    },

    async bucketPausedUntil(bucket) {
      const row = await db
        .selectFrom('rate_limits')
        .select('paused_until_ms')
        .where('bucket', '=', bucket)
        .executeTakeFirst();
      return row ? Number(row.paused_until_ms) : 0;
    },
  };
}
