import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WriteRateLimit, type RateLimitRule } from './support/emulators/rateLimit';
import { Harness } from './support/harness';

/**
 * Per-app rate limits (issue 12): scimflow paces an app's writes to the app's limit, in every process at once, and
 * a 429 holds back every call to the app until its Retry-After has passed, not only the call that got it.
 */

interface LimitedRequest {
  method: string;
  status: number;
  receivedAt: number;
}

/**
 * A proxy that meters the target as a SaaS API does (a token bucket, `WriteRateLimit`) and answers 429 with
 * Retry-After above it; what it lets through goes on to `upstream` (the harness's fault proxy, then scimmy).
 */
async function startRateLimitedProxy(upstream: string, rule: RateLimitRule) {
  const limit = new WriteRateLimit(rule);
  const received: LimitedRequest[] = [];
  const target = new URL(upstream);
  const basePath = target.pathname.replace(/\/+$/, '');
  const agent = new http.Agent({ keepAlive: false });
  const server = http.createServer((req, res) => {
    const record: LimitedRequest = { method: req.method ?? 'GET', status: 0, receivedAt: Date.now() };
    received.push(record);
    const decision = limit.take(record.method, record.receivedAt);
    if (!decision.ok) {
      record.status = 429;
      req.resume();
      res.writeHead(429, {
        'content-type': 'application/scim+json',
        'retry-after': String(decision.retryAfterSeconds),
      });
      res.end(
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          status: '429',
          detail: 'Too many requests',
        }),
      );
      return;
    }
    const forwarded = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, connection: 'close' },
        agent,
      },
      (answer) => {
        record.status = answer.statusCode ?? 502;
        res.writeHead(record.status, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => {
      record.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

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
    const limited = await startRateLimitedProxy(h.proxy.url, { perMinute: 150, burst: 8 });
    try {
      const app = await h.createApp({
        baseUrl: limited.url,
        rateLimit: { requestsPerMinute: 120, burst: 5, applies: 'writes' },
      });
      const { group } = await groupOf(30, 'paced');
      const started = Date.now();

      const { settled } = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

      expect(settled.every((operation) => operation.status === 'completed')).toBe(true);
      expect(h.scim.users().filter((user) => user.userName.startsWith('paced-'))).toHaveLength(30);
      expect(h.remoteGroup('paced group')?.members).toHaveLength(30);
      const writes = limited.received.filter((request) => WRITES.has(request.method));
      expect(writes.filter((request) => request.status === 429)).toEqual([]);
      // The burst at once, then 2 a second: the writes took at least that long.
      expect(Date.now() - started).toBeGreaterThanOrEqual(((writes.length - 5) / 2) * 1000 - 500);
    } finally {
      await limited.close();
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
    const writes = h.proxy.received.slice(start).filter((request) => WRITES.has(request.method));
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
