/**
 * The few ways a SCIM call can fail that callers branch on. Deciding which one a response is happens here and
 * nowhere else (see `classifyResponse`).
 * - transient: network error, timeout, 408, 5xx → retry with backoff
 * - rate-limited: 429 → retry after `retryAfterMs` when the target says so
 * - not-found: 404 → the object was deleted remotely
 * - conflict: 409 (with or without scimType "uniqueness") → look the object up and adopt it
 * - rejected: any other 4xx → retrying will not help; the target's detail tells why
 */
export type ScimErrorKind = 'transient' | 'rate-limited' | 'not-found' | 'conflict' | 'rejected';

export class ScimError extends Error {
  constructor(
    readonly kind: ScimErrorKind,
    message: string,
    readonly details: {
      status?: number;
      scimType?: string;
      detail?: string;
      retryAfterMs?: number;
      method?: string;
      path?: string;
    } = {},
  ) {
    super(message);
    this.name = 'ScimError';
  }

  get retryable(): boolean {
    return this.kind === 'transient' || this.kind === 'rate-limited';
  }
}

export function kindOfStatus(status: number): ScimErrorKind {
  if (status === 429) return 'rate-limited';
  if (status === 408 || status >= 500) return 'transient';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  return 'rejected';
}

/** Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(header: string | undefined, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
