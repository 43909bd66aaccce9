/**
 * A target-side rate limit for test SCIM servers, proxies and bench targets: a token bucket per target (the way
 * Slack meters its SCIM API — a steady rate per minute plus a burst), consulted once per request. A request
 * that finds the bucket empty is to be answered 429 with `Retry-After: retryAfterSeconds`, which is when the
 * next token will be there (rounded up to whole seconds, as the header carries whole seconds).
 *
 * Pure bookkeeping, no HTTP: the server decides what to do with `{ ok: false }`. A refused request takes no
 * token, as a real API's refusal costs it nothing.
 */

export type RateLimitApplies = 'writes' | 'all';

export interface RateLimitRule {
  /** Tokens added per minute. */
  perMinute: number;
  /** Bucket size: how many requests may go at once after a quiet spell. */
  burst: number;
  /** 'writes' (default): only POST, PUT, PATCH and DELETE take a token; reads are never refused. */
  applies?: RateLimitApplies;
}

export type RateLimitDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimitCounts {
  /** Requests that took a token. */
  allowed: number;
  /** Requests refused (to be answered 429). */
  refused: number;
  /** Requests that did not count against the limit (reads under `applies: 'writes'`). */
  uncounted: number;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isWriteMethod(method: string): boolean {
  return WRITE_METHODS.has(method.toUpperCase());
}

export class WriteRateLimit {
  readonly perMinute: number;
  readonly burst: number;
  readonly applies: RateLimitApplies;
  private tokens: number;
  private refilledAtMs: number;
  private readonly counts: RateLimitCounts = { allowed: 0, refused: 0, uncounted: 0 };

  constructor(rule: RateLimitRule, nowMs: number = Date.now()) {
    if (!(rule.perMinute > 0)) throw new Error(`perMinute must be positive, got ${rule.perMinute}`);
    if (!Number.isInteger(rule.burst) || rule.burst < 1)
      throw new Error(`burst must be a positive integer, got ${rule.burst}`);
    this.perMinute = rule.perMinute;
    this.burst = rule.burst;
    this.applies = rule.applies ?? 'writes';
    // A fresh target starts with a full bucket, as after a quiet spell.
    this.tokens = rule.burst;
    this.refilledAtMs = nowMs;
  }

  /** Whether this request counts against the limit. */
  appliesTo(method: string): boolean {
    return this.applies === 'all' || isWriteMethod(method);
  }

  /** Consult the bucket for one request; takes a token when it is allowed and counted. */
  take(method: string, nowMs: number = Date.now()): RateLimitDecision {
    if (!this.appliesTo(method)) {
      this.counts.uncounted += 1;
      return { ok: true };
    }
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.counts.allowed += 1;
      return { ok: true };
    }
    this.counts.refused += 1;
    const msPerToken = 60_000 / this.perMinute;
    const waitMs = (1 - this.tokens) * msPerToken;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /** What the bucket has decided so far. */
  stats(): RateLimitCounts {
    return { ...this.counts };
  }

  private refill(nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.perMinute) / 60_000);
    this.refilledAtMs = Math.max(this.refilledAtMs, nowMs);
  }
}
