import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../src/api/wiring';
import { loadConfig } from '../src/config';
import { appInputSchema } from '../src/directory/model';
import { checkConnection } from '../src/provisioning/connectionCheck';
import { Targets } from '../src/provisioning/targets';
import { ScimClient } from '../src/scim/client';
import { ScimError } from '../src/scim/errors';
import type { HostResolver } from '../src/scim/targetPolicy';
import { apiCalls } from './support/apiCalls';
import { API_TOKEN, Harness } from './support/harness';

interface ConnectionReport {
  ok: boolean;
  reachable: boolean;
  error?: { status?: number; message: string };
}

/**
 * A target that misbehaves on purpose, by the first segment of the path: `/huge/…` answers `hugeBytes` of body
 * (sent with backpressure, so what it managed to send is what the client read or buffered), `/html/…` an HTML
 * error page, `/redirect/…` a redirect to the metadata address.
 */
async function startMisbehavingTarget(hugeBytes: number) {
  const seen = { requests: 0, bytesSent: 0, cutOff: 0, completed: 0 };
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const server = http.createServer(async (request, response) => {
    seen.requests++;
    const [, behaviour] = (request.url ?? '').split('/');
    if (behaviour === 'html') {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end(
        `<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>h1{color:red}</style>` +
          `<script>document.location='https://evil.example'</script></head><body><h1>Bad Gateway</h1>` +
          `<p>upstream\u0000 \u001b[2J said: ${'no '.repeat(2000)}</p></body></html>`,
      );
      return;
    }
    if (behaviour === 'redirect') {
      response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/scim+json', 'content-length': hugeBytes });
    response.on('close', () => (response.writableFinished ? seen.completed++ : seen.cutOff++));
    for (let sent = 0; sent < hugeBytes && !response.destroyed;) {
      const part = chunk.subarray(0, Math.min(chunk.length, hugeBytes - sent));
      const flowing = response.write(part);
      sent += part.length;
      seen.bytesSent += part.length;
      if (!flowing) {
        await new Promise<void>((resolve) => {
          const resume = () => {
            response.off('drain', resume).off('close', resume);
            resolve();
          };
          response.on('drain', resume).on('close', resume);
        });
      }
    }
    if (!response.destroyed) response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (behaviour: 'huge' | 'html' | 'redirect') => `http://127.0.0.1:${port}/${behaviour}/scim/v2`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const MB = 1024 * 1024;

describe('safe outbound calls: which targets scimflow calls, and how much of an answer it reads', () => {
  let h: Harness;
  let target: Awaited<ReturnType<typeof startMisbehavingTarget>>;
  beforeAll(async () => {
    h = await Harness.start();
    target = await startMisbehavingTarget(20 * MB);
  });
  afterAll(async () => {
    await target?.close();
    await h?.close();
  });

  /** Every message of a failed intent's failure chain (workflow → activity → the ScimError's failure). */
  const failureOf = async (workflowId: string) => {
    const failure = await h.temporal.workflow
      .getHandle(workflowId)
      .result()
      .catch((error: unknown) => error);
    const messages: string[] = [];
    for (let cause = failure; cause instanceof Error; cause = cause.cause) messages.push(cause.message);
    return messages.join(' ← ');
  };

  const appNames = async () =>
    (await h.ok<{ items: { name: string }[] }>('GET', '/api/apps')).items.map((app) => app.name);

  describe('when an app is saved through the API', () => {
    test.each([
      ['a cloud metadata address', 'http://169.254.169.254/latest/meta-data/', 'metadata-address'],
      ['a metadata host name', 'https://metadata.google.internal/computeMetadata/v1', 'metadata-address'],
      ['credentials in the URL', 'https://admin:hunter2@scim.example.com/scim/v2', 'credentials-in-url'],
      ['plain http to a host that is not loopback', 'http://scim.example.com/scim/v2', 'https-required'],
      ['a private address, not allowed', 'https://10.0.0.1/scim/v2', 'private-address'],
      ['a link-local address', 'https://[fe80::1]/scim/v2', 'link-local-address'],
      ['the unspecified address', 'https://0.0.0.0/scim/v2', 'unspecified-address'],
      ['an IPv4-mapped private address', 'https://[::ffff:192.168.1.1]/scim/v2', 'private-address'],
      ['a reserved address', 'https://240.0.0.1/scim/v2', 'reserved-address'],
      ['a multicast address', 'https://[ff02::1]/scim/v2', 'reserved-address'],
    ])('given %s, then POST answers 400 naming the rule and nothing is stored', async (_, baseUrl, rule) => {
      const name = `Unsafe ${randomUUID()}`;

      const response = await h.call<{ error: string; rule: string; message: string }>('POST', '/api/apps', {
        name,
        baseUrl,
        auth: { type: 'bearer', token: 'secret-token' },
      });

      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: 'unsafe-target', rule });
      expect(response.body.message).toContain(`(${rule})`);
      expect(JSON.stringify(response.body)).not.toContain('hunter2');
      expect(await appNames()).not.toContain(name);
    });

    test('given an app, when a PATCH points it at a metadata address, then 400 and the app is unchanged', async () => {
      const app = await h.createApp();
      const before = await h.ok<{ baseUrl: string }>('GET', `/api/apps/${app.id}`);

      const response = await h.call('PATCH', `/api/apps/${app.id}`, {
        baseUrl: 'http://169.254.169.254/latest/meta-data/',
      });

      expect(response).toMatchObject({
        status: 400,
        body: { error: 'unsafe-target', rule: 'metadata-address' },
      });
      expect((await h.ok<{ baseUrl: string }>('GET', `/api/apps/${app.id}`)).baseUrl).toBe(before.baseUrl);
    });

    test("given the app's allowPrivateNetwork, then a private https address is accepted; turning it off again is refused", async () => {
      const name = `Private ${randomUUID()}`;
      const created = await h.call<{ id: string; allowPrivateNetwork: boolean }>('POST', '/api/apps', {
        name,
        baseUrl: 'https://10.0.0.1/scim/v2',
        allowPrivateNetwork: true,
        auth: { type: 'bearer', token: 'secret-token' },
      });
      expect(created).toMatchObject({ status: 201, body: { allowPrivateNetwork: true } });

      const turnedOff = await h.call('PATCH', `/api/apps/${created.body.id}`, { allowPrivateNetwork: false });

      expect(turnedOff).toMatchObject({ status: 400, body: { rule: 'private-address' } });
      expect(await h.ok('GET', `/api/apps/${created.body.id}`)).toMatchObject({ allowPrivateNetwork: true });
      // Never past the private ranges: metadata stays refused with the allowance.
      const metadata = await h.call('PATCH', `/api/apps/${created.body.id}`, {
        baseUrl: 'https://[fd00:ec2::254]/latest',
      });
      expect(metadata).toMatchObject({ status: 400, body: { rule: 'metadata-address' } });
    });

    test('given SCIMFLOW_ALLOW_PRIVATE_TARGETS, then private addresses are accepted for every app; loopback needs its own setting', async () => {
      const deployed = { TEMPORAL_ADDRESS: 'temporal:7233' };
      const strict = new Targets(h.store, { settings: loadConfig(deployed).targets });
      const privateAllowed = new Targets(h.store, {
        settings: loadConfig({ ...deployed, SCIMFLOW_ALLOW_PRIVATE_TARGETS: 'true' }).targets,
      });
      const privateTarget = { baseUrl: 'https://10.0.0.1/scim/v2' };

      expect((await strict.refusal(privateTarget))?.rule).toBe('private-address');
      expect(await privateAllowed.refusal(privateTarget)).toBeUndefined();
      expect((await privateAllowed.refusal({ baseUrl: 'http://127.0.0.1:8880/scim/v2' }))?.rule).toBe(
        'loopback-address',
      );
      // `npm start` with its own dev server (no TEMPORAL_ADDRESS) allows loopback by default, a deployment does not.
      expect(loadConfig({}).targets.allowLoopback).toBe(true);
      expect(loadConfig(deployed).targets.allowLoopback).toBe(false);
      expect(loadConfig({ SCIMFLOW_ALLOW_LOOPBACK_TARGETS: 'false' }).targets.allowLoopback).toBe(false);
      expect(() => loadConfig({ SCIMFLOW_ALLOW_PRIVATE_TARGETS: 'yes please' })).toThrow(
        /SCIMFLOW_ALLOW_PRIVATE_TARGETS/,
      );
    });

    test('given a deployment (TEMPORAL_ADDRESS set, loopback not allowed), then an app on a loopback address is refused by the API naming the rule, and nothing is stored', async () => {
      const config = loadConfig({
        TEMPORAL_ADDRESS: process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS,
        SCIMFLOW_TASK_QUEUE: h.taskQueue,
      });
      const { api } = await createApiServer({
        config,
        store: h.store,
        temporal: h.temporal,
        token: API_TOKEN,
        keyring: h.keyring,
        logger: false,
      });
      const name = `Loopback ${randomUUID()}`;
      try {
        const url = await api.listen({ host: '127.0.0.1', port: 0 });
        const deployed = apiCalls(
          () => url,
          () => API_TOKEN,
        );
        const response = await deployed.call('POST', '/api/apps', {
          name,
          baseUrl: 'http://127.0.0.1:8880/scim/v2',
          auth: { type: 'bearer', token: 'secret-token' },
        });

        expect(response).toMatchObject({
          status: 400,
          body: { error: 'unsafe-target', rule: 'loopback-address' },
        });
      } finally {
        await api.close();
      }
      expect(await appNames()).not.toContain(name);
    });

    test('given an app stored before credentials in URLs were refused, then GET never shows them and its calls are refused', async () => {
      const old = await h.store.createApp(
        appInputSchema.parse({
          name: `Old ${randomUUID()}`,
          baseUrl: 'https://admin:hunter2@scim.example.com/scim/v2',
          auth: { type: 'bearer', token: 'secret-token' },
        }),
      );

      const shown = await h.ok<{ baseUrl: string }>('GET', `/api/apps/${old.id}`);
      const listed = await h.ok('GET', '/api/apps');
      const report = await h.ok<ConnectionReport>('POST', `/api/apps/${old.id}/test-connection`);

      expect(shown.baseUrl).toBe('https://scim.example.com/scim/v2');
      expect(JSON.stringify(listed)).not.toContain('hunter2');
      expect(report).toMatchObject({ ok: false, reachable: false });
      expect(report.error?.message).toContain('(credentials-in-url)');
      expect(JSON.stringify(report)).not.toContain('hunter2');
    });
  });

  describe('when a call is made', () => {
    test('given an app whose stored baseUrl now points at a private address, then its intent fails with the rule and nothing is sent', async () => {
      const { app, group } = await h.appWithAssignedGroup();
      await h.store.updateApp(app.id, { baseUrl: 'https://10.0.0.1/scim/v2' });
      const requestsBefore = h.scim.requests.length;
      const user = await h.createUser(`private-${randomUUID().slice(0, 8)}@example.com`);

      const joined = await h.change('PUT', `/api/groups/${group.id}/members/${user.id}`);

      const provision = joined.settled.find((settled) => settled.intent === 'provisionUser');
      expect(provision).toMatchObject({ status: 'failed' });
      expect(await failureOf(provision!.workflowId)).toMatch(
        /not sent, refused by the target policy \(private-address\)/,
      );
      expect(h.scim.requests.length).toBe(requestsBefore);
    });

    test('given a host name that resolved to loopback and now resolves to the metadata address (DNS rebinding), then the connection is refused', async () => {
      let answer = '127.0.0.1';
      const resolveHost: HostResolver = async () => [{ address: answer, family: 4 }];
      const targets = new Targets(h.store, {
        settings: { allowLoopback: true, allowPrivate: false, maxResponseBytes: 10 * MB },
        resolveHost,
      });
      const app = await h.store.createApp(
        appInputSchema.parse({
          name: `Rebound ${randomUUID()}`,
          baseUrl: h.proxy.url.replace('127.0.0.1', 'scim.localhost'),
          auth: { type: 'bearer', token: h.scim.token },
        }),
      );

      expect(await checkConnection(targets, app)).toMatchObject({ ok: true });
      answer = '169.254.169.254';
      const requestsBefore = h.scim.requests.length;
      const rebound = await checkConnection(targets, app);

      expect(rebound).toMatchObject({ ok: false, reachable: false });
      expect(rebound.error?.message).toMatch(
        /scim\.localhost resolves to 169\.254\.169\.254.*\(metadata-address\)|\(metadata-address\).*169\.254\.169\.254/,
      );
      expect(h.scim.requests.length).toBe(requestsBefore);
    });

    test('given a target answering a 20 MB body, then the intent fails with a clear error and the answer is cut off', async () => {
      const app = await h.createApp({ baseUrl: target.url('huge') });
      const group = await h.ok<{ id: string }>('POST', '/api/groups', {
        displayName: `Huge ${randomUUID()}`,
      });

      const assigned = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

      expect(assigned.settled).toHaveLength(1);
      expect(assigned.settled[0]).toMatchObject({ intent: 'createGroup', status: 'failed' });
      expect(await failureOf(assigned.settled[0].workflowId)).toMatch(
        /the response exceeded 10 MB and was cut off/,
      );
      // Not retried: the target would answer the same again.
      expect(target.seen.requests).toBe(1);
    });

    test('given a target answering a body far over the limit, then the client stops reading at the limit instead of buffering it', async () => {
      const endless = await startMisbehavingTarget(1024 * MB);
      try {
        const client = new ScimClient({
          baseUrl: endless.url('huge'),
          auth: { type: 'bearer', token: 'token' },
          targetPolicy: { allowLoopback: true, allowPrivate: false },
        });

        const failure = await client.serviceProviderConfig().catch((error: unknown) => error);

        expect(failure).toBeInstanceOf(ScimError);
        expect(failure).toMatchObject({ kind: 'rejected', retryable: false });
        expect((failure as ScimError).message).toBe(
          'GET /ServiceProviderConfig: the response exceeded 10 MB and was cut off (SCIMFLOW_MAX_RESPONSE_MB)',
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(endless.seen).toMatchObject({ requests: 1, cutOff: 1, completed: 0 });
        // What the sender could push: the 10 MB read plus what the sockets' buffers hold, far from 1 GB.
        expect(endless.seen.bytesSent).toBeLessThan(32 * MB);
      } finally {
        await endless.close();
      }
    });

    test('given a target answering an HTML error page, then test-connection echoes a short line of plain text', async () => {
      const app = await h.createApp({ baseUrl: target.url('html') });

      const report = await h.ok<ConnectionReport>('POST', `/api/apps/${app.id}/test-connection`);

      expect(report).toMatchObject({ ok: false, reachable: true, error: { status: 502 } });
      const message = report.error?.message ?? '';
      expect(message).toMatch(
        /^GET \/ServiceProviderConfig answered 502: 502 Bad Gateway Bad Gateway upstream/,
      );
      expect(message).not.toMatch(/[<>]|script|evil|color/);
      expect(message).not.toMatch(/\p{Cc}/u);
      expect(message.length).toBeLessThanOrEqual(300);
    });

    test('given a target answering a redirect to the metadata address, then it is not followed', async () => {
      const app = await h.createApp({ baseUrl: target.url('redirect') });
      const requestsBefore = target.seen.requests;

      const report = await h.ok<ConnectionReport>('POST', `/api/apps/${app.id}/test-connection`);

      expect(report).toMatchObject({ ok: false, error: { status: 302 } });
      expect(report.error?.message).toContain('answered 302 (redirects are not followed)');
      expect(target.seen.requests).toBe(requestsBefore + 1);
    });
  });
});
