import { kindOfStatus, parseRetryAfter, ScimError } from '../../../src/scim/errors';

describe('how a SCIM error response is classified', () => {
  test.each([
    [429, 'rate-limited'],
    [408, 'transient'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [404, 'not-found'],
    [409, 'conflict'],
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [422, 'rejected'],
  ] as const)('given the target answers %i, then the error is %s', (status, kind) => {
    expect(kindOfStatus(status)).toBe(kind);
  });

  test('given each kind, then only transient and rate-limited errors are retried', () => {
    const retried = (['transient', 'rate-limited', 'not-found', 'conflict', 'rejected'] as const).filter(
      (kind) => new ScimError(kind, 'failed').retryable,
    );

    expect(retried).toEqual(['transient', 'rate-limited']);
  });
});

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');

  test('given delay-seconds, then that many milliseconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  test('given an HTTP-date, then the time until it; a date already past means now', () => {
    expect(parseRetryAfter('Tue, 01 Dec 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
  });

  test('given no header or one that is neither, then no delay is known', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
