import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScimClient } from '../src/scim/client';
import { ScimError } from '../src/scim/errors';
import { startScimServer, type ScimTestServer } from './support/scimServer';

describe('the SCIM client against a real SCIM server', () => {
  let server: ScimTestServer;
  beforeAll(async () => {
    server = await startScimServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('pages through every user with startIndex/count until totalResults', async () => {
    for (let i = 0; i < 250; i++) server.seedUser({ userName: `paged${i}@example.com` });
    const client = new ScimClient({ baseUrl: server.url, auth: { type: 'bearer', token: server.token } });
    server.resetRequests();

    const userNames: string[] = [];
    for await (const user of client.listAll('Users', { pageSize: 100 })) userNames.push(user.userName);

    expect(new Set(userNames).size).toBe(250);
    expect(server.requests.map((r) => [r.query.startIndex, r.query.count])).toEqual([
      ['1', '100'],
      ['101', '100'],
      ['201', '100'],
    ]);
  });

  it('finds a user whose userName needs quoting in a filter', async () => {
    const odd = "o'brien+tag (x)@example.com";
    server.seedUser({ userName: odd });
    const client = new ScimClient({ baseUrl: server.url, auth: { type: 'bearer', token: server.token } });
    expect((await client.findUser('userName', odd))?.userName).toBe(odd);
  });

  it('turns SCIM error bodies into typed errors with the target detail', async () => {
    const client = new ScimClient({ baseUrl: server.url, auth: { type: 'bearer', token: server.token } });
    await client.createUser({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'twice@example.com',
    });
    const duplicate = await client
      .createUser({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'twice@example.com' })
      .catch((error: unknown) => error);
    expect(duplicate).toBeInstanceOf(ScimError);
    expect(duplicate).toMatchObject({ kind: 'conflict', details: { status: 409, scimType: 'uniqueness' } });

    const missing = await client.getUser('no-such-id').catch((error: unknown) => error);
    expect(missing).toMatchObject({ kind: 'not-found', details: { status: 404 } });

    const unauthorized = new ScimClient({ baseUrl: server.url, auth: { type: 'bearer', token: 'wrong' } });
    const denied = await unauthorized.findUser('userName', 'x').catch((error: unknown) => error);
    expect(denied).toMatchObject({ kind: 'rejected', details: { status: 401 } });
  });
});

describe('the SCIM client on the wire', () => {
  it('sends Basic credentials and SCIM content types, and reports network failures as transient', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((request, response) => {
      seen.push(request.headers);
      response.setHeader('content-type', 'application/scim+json');
      response.end(JSON.stringify({ id: '1', userName: 'u' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new ScimClient({
      baseUrl: `http://127.0.0.1:${port}/scim/v2/`,
      auth: { type: 'basic', username: 'svc', password: 's3cret' },
    });
    await client.createUser({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'u' });
    await new Promise((resolve) => server.close(resolve));

    expect(seen[0].authorization).toBe(`Basic ${Buffer.from('svc:s3cret').toString('base64')}`);
    expect(seen[0]['content-type']).toBe('application/scim+json');

    const offline = await client.getUser('1').catch((error: unknown) => error);
    expect(offline).toMatchObject({ kind: 'transient' });
    expect(String((offline as Error).message)).not.toContain('s3cret');
  });

  it('keeps a connection for the next call, but lets it go a second before the keep-alive timeout the server announced', async () => {
    let connections = 0;
    const server = http.createServer((_request, response) => {
      response.setHeader('content-type', 'application/scim+json');
      response.end(JSON.stringify({ id: '1', userName: 'u' }));
    });
    // Announced as `Keep-Alive: timeout=2`; the client must let go of an idle socket a second earlier.
    server.keepAliveTimeout = 2_000;
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new ScimClient({
      baseUrl: `http://127.0.0.1:${port}/scim/v2/`,
      auth: { type: 'bearer', token: 't' },
    });
    try {
      await client.getUser('1');
      await client.getUser('1');
      expect(connections).toBe(1);

      // Idle for longer than the client's margin, and shorter than the server's timeout: the server still holds
      // the socket, but the client has let it go.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await client.getUser('1');
      expect(connections).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
