import { setTimeout as sleepFor } from 'node:timers/promises';
import { Limiter } from './concurrency';
import { effectiveProfile } from './profiles';
import type { RequestPacer } from './targets';
import type { DirectoryApp } from '../directory/model';
import type { RateLimit } from '../directory/targetSettings';
import type { RateLimitStore } from '../directory/store';
import { ScimError } from '../scim/errors';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a request counts against the app's limit: `writes` counts what changes the app, `all` everything. */
export const countsAgainst = (limit: RateLimit, method: string) =>
  limit.applies === 'all' || WRITE_METHODS.has(method.toUpperCase());

/**
 * The longest the pacer holds one request back, waiting for its slot or for a pause to end. A creation's POST
 * is sent under a creation claim (links.ts) that a retry of the same work, in any process, takes over once quiet
 * for `claimQuietMs` (≥ 30 s) and then looks up and POSTs itself: a POST still held here past that could make a
 * second account. And an intent's activity has 30 s to run. A longer wait is not waited: the request fails
 * unsent with `rate-limited` and the wait as `retryAfterMs`, so the activity is retried after it (Temporal's
 * `nextRetryDelay`) and its creation claim is let go (a request refused for rate is known not to have landed).
 */
export const MAX_HOLD_MS = 20_000;

/**
 * Requests of one process waiting for a slot (or being sent) per rate-limited app: the burst, or five seconds'
 * worth of the app's rate, whichever is more. Slots are reserved when a request starts to wait, so without a cap
 * a worker with 32 requests in flight for a 16-a-minute app would reserve slots two minutes ahead, far past
 * `MAX_HOLD_MS`. With it, the slots one process holds end about five seconds ahead; several processes sharing the
 * bucket each add theirs (four workers: about twenty seconds). Requests beyond the cap wait in line here, before
 * they reserve anything — as they would in `Targets`' own per-app queue.
 */
export const inFlightFor = (limit: RateLimit) =>
  Math.max(1, limit.burst, Math.ceil((limit.requestsPerMinute / 60) * 5));

/** How many times a request answered 429 is sent again here before its activity's own retry takes over. */
export const MAX_RESENDS = 3;
/** Pauses waited for, in all, by one request across its resends. */
const MAX_TOTAL_PAUSE_MS = 120_000;
/** A 429 without Retry-After pauses the app this long; a Retry-After longer than the cap is cut to it. */
export const DEFAULT_PAUSE_MS = 30_000;
export const MAX_PAUSE_MS = 10 * 60_000;
/**
 * How long this process trusts "the app is not paused" before asking the store again (for a request that goes
 * without waiting, e.g. a read under `applies: 'writes'`). A pause it knows of is trusted until it ends.
 */
const PAUSE_CHECK_MS = 1_000;
/** After a wait for a slot, the pause is checked again unless it was checked this recently (a burst of wakers). */
const PAUSE_RECHECK_MS = 100;

interface PauseView {
  /** Epoch ms the app's pause ends; 0 or past: none. */
  until: number;
  checkedAt: number;
  pending?: Promise<number>;
}

interface AppPacing {
  limit: RateLimit;
  requests: Limiter;
}

export interface RateLimiterOptions {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Replaces `MAX_HOLD_MS` (tests). */
  maxHoldMs?: number;
  /** Told of each request about to be sent again after a 429 (metrics). */
  onResend?: (appId: string) => void;
  /** Told of each request failed unsent, its slot or the app's pause too far away (metrics). */
  onNotSent?: (appId: string) => void;
}

/**
 * Paces each app's requests to its rate limit (`effectiveProfile(app).rateLimit`), across every process that
 * shares the directory: the slots come from the store's bucket for the app (GCRA, see kysely/rateLimits.ts), so
 * three workers together send no more than the limit, and a 429 one of them receives pauses the bucket for all.
 *
 * - Counted requests reserve a slot and wait for it; before sending they look at the pause again (a 429 another
 *   process received meanwhile) and, if paused, reserve a new slot after it.
 * - Uncounted requests (reads, when only writes count) take no slot but wait out a pause.
 * - A 429 pauses the bucket for Retry-After (or `DEFAULT_PAUSE_MS`, at most `MAX_PAUSE_MS`) and the request is
 *   sent again after the pause — the app did not act on it, so even a POST may go again — up to `MAX_RESENDS`
 *   times; then the 429 is thrown and the activity's retry takes over.
 * - Apps without a limit: the request goes at once, with no store access.
 */
export class RateLimiter implements RequestPacer {
  private readonly pauses = new Map<string, PauseView>();
  private readonly pacing = new Map<string, AppPacing>();
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxHoldMs: number;

  constructor(
    private readonly store: RateLimitStore,
    private readonly options: RateLimiterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => sleepFor(ms));
    this.maxHoldMs = options.maxHoldMs ?? MAX_HOLD_MS;
  }

  async send<T>(
    app: DirectoryApp,
    call: { method: string; path: string },
    request: () => Promise<T>,
  ): Promise<T> {
    const limit = effectiveProfile(app).rateLimit;
    if (!limit) return request();
    const counted = countsAgainst(limit, call.method);
    const send = () => this.sendPaced(app, limit, counted, call, request);
    return counted ? this.pacingOf(app.id, limit).run(send) : send();
  }

  private async sendPaced<T>(
    app: DirectoryApp,
    limit: RateLimit,
    counted: boolean,
    call: { method: string; path: string },
    request: () => Promise<T>,
  ): Promise<T> {
    let pausedFor = 0;
    for (let resends = 0; ; resends++) {
      if (counted) await this.waitForSlot(app, limit, call);
      else await this.waitOutPause(app, call, PAUSE_CHECK_MS);
      try {
        return await request();
      } catch (error) {
        if (!(error instanceof ScimError) || error.kind !== 'rate-limited' || error.details.status !== 429)
          throw error;
        const pauseMs = Math.min(error.details.retryAfterMs ?? DEFAULT_PAUSE_MS, MAX_PAUSE_MS);
        await this.pause(app.id, this.now() + pauseMs);
        pausedFor += pauseMs;
        if (resends >= MAX_RESENDS || pausedFor > MAX_TOTAL_PAUSE_MS || pauseMs > this.maxHoldMs)
          throw error.details.retryAfterMs === undefined ? withRetryAfter(error, pauseMs) : error;
        this.options.onResend?.(app.id);
      }
    }
  }

  /** Waits for a slot of the app's bucket that no pause covers. */
  private async waitForSlot(
    app: DirectoryApp,
    limit: RateLimit,
    call: { method: string; path: string },
  ): Promise<void> {
    const spacingMs = 60_000 / limit.requestsPerMinute;
    for (;;) {
      // A pause this process knows of is waited out before reserving: a slot taken now would be after it anyway,
      // and one given up (the pause too long to wait) would leave a gap in the bucket.
      await this.waitOutPause(app, call, PAUSE_CHECK_MS);
      const slot = await this.store.reserveSlot(app.id, spacingMs, limit.burst, this.now());
      const waitMs = slot - this.now();
      if (waitMs <= 0) return; // The reservation saw no pause: one would have put the slot after it.
      if (waitMs > this.maxHoldMs) throw this.notSent(app, call, waitMs);
      await this.sleep(waitMs);
      const pausedUntil = await this.pausedUntil(app.id, PAUSE_RECHECK_MS);
      if (pausedUntil <= this.now()) return;
    }
  }

  private async waitOutPause(
    app: DirectoryApp,
    call: { method: string; path: string },
    maxAgeMs: number,
  ): Promise<void> {
    const waitMs = (await this.pausedUntil(app.id, maxAgeMs)) - this.now();
    if (waitMs <= 0) return;
    if (waitMs > this.maxHoldMs) throw this.notSent(app, call, waitMs);
    await this.sleep(waitMs);
  }

  /** When the app's pause ends, as this process knows it, asking the store if that is older than `maxAgeMs`. */
  private async pausedUntil(bucket: string, maxAgeMs: number): Promise<number> {
    const now = this.now();
    const view = this.pauses.get(bucket);
    if (view && (view.until > now || now - view.checkedAt <= maxAgeMs)) return view.until;
    if (view?.pending) return view.pending;
    const pending = this.store.bucketPausedUntil(bucket).then(
      (until) => {
        const known = this.pauses.get(bucket);
        const latest = Math.max(until, known?.until ?? 0);
        this.pauses.set(bucket, { until: latest, checkedAt: now });
        return latest;
      },
      (error: unknown) => {
        const known = this.pauses.get(bucket);
        if (known?.pending === pending) delete known.pending;
        throw error;
      },
    );
    this.pauses.set(bucket, { until: view?.until ?? 0, checkedAt: view?.checkedAt ?? 0, pending });
    return pending;
  }

  private async pause(bucket: string, untilMs: number): Promise<void> {
    const known = this.pauses.get(bucket);
    if (!known || known.until < untilMs) this.pauses.set(bucket, { until: untilMs, checkedAt: this.now() });
    await this.store.pauseBucket(bucket, untilMs);
  }

  private notSent(app: DirectoryApp, call: { method: string; path: string }, waitMs: number): ScimError {
    this.options.onNotSent?.(app.id);
    return notSent(app, call, waitMs);
  }

  private pacingOf(appId: string, limit: RateLimit): Limiter {
    const known = this.pacing.get(appId);
    if (
      known &&
      known.limit.requestsPerMinute === limit.requestsPerMinute &&
      known.limit.burst === limit.burst
    )
      return known.requests;
    // The app's limit changed: new requests line up under the new cap; those already in line finish under the old.
    const requests = new Limiter(inFlightFor(limit));
    this.pacing.set(appId, { limit, requests });
    return requests;
  }
}

/** The request was not sent: the app's slot or its pause is further away than a request may be held. */
function notSent(app: DirectoryApp, call: { method: string; path: string }, waitMs: number): ScimError {
  const seconds = Math.ceil(waitMs / 1000);
  return new ScimError(
    'rate-limited',
    `${call.method} ${call.path} not sent: ${app.name} is rate limited for another ${seconds} s`,
    { retryAfterMs: waitMs, method: call.method, path: call.path },
  );
}

function withRetryAfter(error: ScimError, retryAfterMs: number): ScimError {
  return new ScimError(error.kind, error.message, { ...error.details, retryAfterMs });
}
