import { startEmulator } from './support/emulators';
import { isWriteMethod } from './support/emulators/rateLimit';
import { Harness } from './support/harness';

/**
 * Per-app rate limits (issue 12): scimflow paces an app's writes to the app's limit, in every process at once, and
 * a 429 holds back every call to the app until its Retry-After has passed, not only the call that got it.
 */

describe('per-app rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => h.proxy.clearFaults());

  async function groupOf(count: number, tag: string) {
    const users = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        h.createUser(`${tag}-${String(i).padStart(2, '0')}@example.com`),
      ),
    );
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `${tag} group`,
      memberIds: users.map((user) => user.id),
    });
    return { users, group };
  }

  it('given an app limited to 120 writes a minute (burst 5) and a target that refuses more than 150 (burst 8), when a group of 30 is assigned, then all 30 arrive and the target never answers 429', async () => {
    // Slack's emulator meters writes as Slack does (a token bucket), here at 150 a minute with bursts of 8.
    const slackLike = await startEmulator('slack', { writesPerMinute: 150, burst: 8 });
    try {
      const app = await h.createApp({
        baseUrl: slackLike.url,
        auth: { type: 'bearer', token: slackLike.token },
        rateLimit: { requestsPerMinute: 120, burst: 5, applies: 'writes' },
      });
      const { group } = await groupOf(30, 'paced');
      const started = Date.now();

      const { settled } = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

      expect(settled.every((operation) => operation.status === 'completed')).toBe(true);
      expect(slackLike.users().filter((user) => user.userName.startsWith('paced-'))).toHaveLength(30);
      expect(slackLike.groups().find((g) => g.displayName === 'paced group')?.members).toHaveLength(30);
      expect(slackLike.rateLimited()).toBe(0);
      expect(slackLike.violations()).toEqual([]);
      const writes = slackLike.requests.filter((request) => isWriteMethod(request.method));
      // The burst at once, then 2 a second: the writes took at least that long.
      expect(Date.now() - started).toBeGreaterThanOrEqual(((writes.length - 5) / 2) * 1000 - 500);
    } finally {
      await slackLike.close();
    }
  });

  it('given a paced app, when the target answers one write 429 with Retry-After: 3, then no other write reaches it for those 3 s, and every user still arrives', async () => {
    const app = await h.createApp({ rateLimit: { requestsPerMinute: 120, burst: 5, applies: 'writes' } });
    const { group } = await groupOf(12, 'paused');
    const start = h.proxy.received.length;
    // The third user POST, so the 429 comes while other writes wait for their slots.
    h.proxy.failNext({ method: 'POST', pathPrefix: '/Users' }, { type: 'delay', ms: 0 }, 2);
    h.proxy.failNext(
      { method: 'POST', pathPrefix: '/Users' },
      { type: 'status', status: 429, retryAfterSeconds: 3 },
    );

    const { settled } = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

    expect(settled.every((operation) => operation.status === 'completed')).toBe(true);
    expect(h.scim.users().filter((user) => user.userName.startsWith('paused-'))).toHaveLength(12);
    expect(h.remoteGroup('paused group')?.members).toHaveLength(12);
    const writes = h.proxy.received.slice(start).filter((request) => isWriteMethod(request.method));
    const refused = writes.filter((request) => request.status === 429);
    expect(refused).toHaveLength(1);
    const pausedAt = refused[0].receivedAt;
    // Writes already on the wire when the 429 came back may land just after it; none is sent during the pause.
    const duringPause = writes.filter(
      (request) => request.receivedAt > pausedAt + 250 && request.receivedAt < pausedAt + 2_950,
    );
    expect(duringPause).toEqual([]);
    expect(writes.filter((request) => request.receivedAt >= pausedAt + 2_950).length).toBeGreaterThan(0);
  });
});
