/**
 * The few ways a SCIM call can fail that callers branch on. Deciding which one a response is happens here and
 * nowhere else (see `classifyResponse`).
 * - transient: network error, timeout, 408, 5xx → retry with backoff
 * - rate-limited: 429 → retry after `retryAfterMs` when the target says so
 * - not-found: 404 → the object was deleted remotely
 * - conflict: 409 (with or without scimType "uniqueness") → look the object up and adopt it
 * - rejected: any other 4xx or 3xx (redirects are not followed) → retrying will not help; the target's detail
 *   tells why. Also a call the target policy refused (`targetPolicy.ts`, the rule in the message) and an answer
 *   larger than the response limit: the target would refuse or answer the same again.
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
      /** The target policy's rule, when the call was refused before it was sent (targetPolicy.ts). */
      rule?: string;
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

/** How much of a target's answer an error message quotes. */
export const MAX_QUOTED_ANSWER = 200;

/**
 * A target's answer (an error page, a SCIM `detail`) as a short line of plain text, fit to be quoted in an error
 * message that the API, logs and the Temporal UI show: whatever the target sends, it cannot inject markup,
 * terminal escapes or a megabyte into them. Tags, scripts, styles and comments are dropped, control and
 * formatting characters (bidi overrides, zero-width) become spaces, and the rest is cut at `maxLength`.
 */
export function plainExcerpt(text: string, maxLength = MAX_QUOTED_ANSWER): string {
  const plain = text
    .slice(0, 64 * 1024)
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<\/?[a-z!?][^>]*>?/gi, ' ')
    .replace(/&(nbsp|#160);/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&quot;/gi, '"')
    .replace(/&(#39|apos);/gi, "'")
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > maxLength ? `${plain.slice(0, maxLength - 1).trimEnd()}…` : plain;
}
