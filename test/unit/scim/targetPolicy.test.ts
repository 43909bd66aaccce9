import { plainExcerpt } from '../../../src/scim/errors';
import {
  assessTarget,
  checkTargetUrl,
  classifyAddress,
  guardedLookup,
  type HostResolver,
  TargetRefusedError,
  type TargetPolicy,
  withoutUrlCredentials,
} from '../../../src/scim/targetPolicy';

const strict: TargetPolicy = { allowLoopback: false, allowPrivate: false };
const development: TargetPolicy = { allowLoopback: true, allowPrivate: false };
const privateAllowed: TargetPolicy = { allowLoopback: false, allowPrivate: true };

const ruleOf = (baseUrl: string, policy: TargetPolicy = strict) => checkTargetUrl(baseUrl, policy)?.rule;

/** A DNS that answers from a table, as dns.lookup with `all` would. */
const resolverOf =
  (table: Record<string, string[]>): HostResolver =>
  async (hostname) => {
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('what an address is', () => {
  test.each([
    ['8.8.8.8', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.254', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['ff02::1', 'reserved'],
  ] as const)('given %s, then it is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  test.each([
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::808:808', 'public'],
    ['2002:a00:1::1', 'private'],
    ['::127.0.0.1', 'reserved'],
  ] as const)(
    'given the IPv6 form %s of an IPv4 address, then the IPv4 address decides: %s',
    (address, expected) => {
      expect(classifyAddress(address)).toBe(expected);
    },
  );
});

describe('a base URL, checked without DNS', () => {
  test('given a public https URL, then nothing is refused', () => {
    expect(ruleOf('https://acme.example.com/scim/v2')).toBeUndefined();
    expect(ruleOf('https://[2606:4700::1111]/scim')).toBeUndefined();
  });

  test.each([
    ['http://acme.example.com/scim/v2', 'https-required'],
    ['http://8.8.8.8/scim', 'https-required'],
    ['ftp://acme.example.com/', 'https-required'],
    ['https://user:secret@acme.example.com/scim', 'credentials-in-url'],
    ['https://token@acme.example.com/scim', 'credentials-in-url'],
    ['not a url', 'invalid-url'],
    ['http://169.254.169.254/latest/meta-data/', 'metadata-address'],
    ['https://[fd00:ec2::254]/', 'metadata-address'],
    ['https://metadata.google.internal/computeMetadata/v1/', 'metadata-address'],
    ['https://METADATA.google.internal./', 'metadata-address'],
    ['https://169.254.10.10/', 'link-local-address'],
    ['https://[fe80::1]/', 'link-local-address'],
    ['https://0.0.0.0/', 'unspecified-address'],
    ['https://[::]/', 'unspecified-address'],
    ['https://0/', 'unspecified-address'],
    ['https://127.0.0.1/', 'loopback-address'],
    ['https://2130706433/', 'loopback-address'],
    ['https://0x7f.1/', 'loopback-address'],
    ['https://[::1]/', 'loopback-address'],
    ['https://[::ffff:127.0.0.1]/', 'loopback-address'],
    ['https://localhost/', 'loopback-address'],
    ['https://api.localhost/', 'loopback-address'],
    ['https://10.0.0.1/', 'private-address'],
    ['https://172.20.1.1/', 'private-address'],
    ['https://192.168.0.10/', 'private-address'],
    ['https://100.64.0.1/', 'private-address'],
    ['https://[fd00::5]/', 'private-address'],
    ['https://[::ffff:192.168.0.1]/', 'private-address'],
    ['https://224.0.0.1/', 'reserved-address'],
  ])('given %s under the strict policy, then it is refused by %s', (baseUrl, rule) => {
    expect(ruleOf(baseUrl)).toBe(rule);
  });

  test('given the development policy, then http and https to loopback are allowed, and nothing else over http', () => {
    expect(ruleOf('http://127.0.0.1:8880/scim/v2', development)).toBeUndefined();
    expect(ruleOf('http://localhost:8880/scim/v2', development)).toBeUndefined();
    expect(ruleOf('http://[::1]:8880/scim/v2', development)).toBeUndefined();
    expect(ruleOf('https://127.0.0.1/', development)).toBeUndefined();
    expect(ruleOf('http://scim.example.com/', development)).toBe('https-required');
    expect(ruleOf('http://169.254.169.254/', development)).toBe('metadata-address');
    expect(ruleOf('https://10.0.0.1/', development)).toBe('private-address');
  });

  test('given private addresses allowed, then private https targets pass, but never over http, and never metadata or link-local', () => {
    expect(ruleOf('https://10.0.0.1/scim', privateAllowed)).toBeUndefined();
    expect(ruleOf('https://[fd00::5]/scim', privateAllowed)).toBeUndefined();
    expect(ruleOf('http://10.0.0.1/scim', privateAllowed)).toBe('https-required');
    expect(ruleOf('https://[fd00:ec2::254]/', privateAllowed)).toBe('metadata-address');
    expect(ruleOf('https://100.100.100.200/', privateAllowed)).toBe('metadata-address');
    expect(ruleOf('https://169.254.1.1/', privateAllowed)).toBe('link-local-address');
    expect(ruleOf('https://127.0.0.1/', privateAllowed)).toBe('loopback-address');
  });

  test('given a refusal, then its message names what to do', () => {
    expect(checkTargetUrl('https://10.0.0.1/', strict)?.message).toMatch(
      /10\.0\.0\.1, a private address: allowed only with SCIMFLOW_ALLOW_PRIVATE_TARGETS or the app's allowPrivateNetwork/,
    );
    expect(checkTargetUrl('https://a:b@example.com/', strict)?.message).toMatch(/put them in auth/);
    expect(checkTargetUrl('http://127.0.0.1/', strict)?.message).toMatch(/SCIMFLOW_ALLOW_LOOPBACK_TARGETS/);
  });
});

describe('a base URL whose host name is resolved', () => {
  const dns = resolverOf({
    'scim.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'internal.example.com': ['10.1.2.3'],
    'mixed.example.com': ['93.184.215.14', '192.168.1.20'],
    'imds.example.com': ['169.254.169.254'],
    'mapped.example.com': ['::ffff:10.0.0.7'],
    localhost: ['127.0.0.1', '::1'],
    'rebound.localhost': ['127.0.0.1', '10.0.0.1'],
  });

  test('given a name that resolves to public addresses only, then it is allowed', async () => {
    expect(await assessTarget('https://scim.example.com/scim/v2', strict, dns)).toBeUndefined();
  });

  test.each([
    ['https://internal.example.com/scim', 'private-address'],
    ['https://mixed.example.com/scim', 'private-address'],
    ['https://imds.example.com/latest', 'metadata-address'],
    ['https://mapped.example.com/scim', 'private-address'],
  ])('given %s, then every address is checked and it is refused by %s', async (baseUrl, rule) => {
    const refusal = await assessTarget(baseUrl, strict, dns);
    expect(refusal?.rule).toBe(rule);
    expect(refusal?.message).toMatch(/resolves to/);
  });

  test('given private addresses allowed, then a name resolving to one passes, but not one resolving to metadata', async () => {
    expect(await assessTarget('https://internal.example.com/scim', privateAllowed, dns)).toBeUndefined();
    expect((await assessTarget('https://imds.example.com/', privateAllowed, dns))?.rule).toBe(
      'metadata-address',
    );
  });

  test('given plain http to a localhost name that also resolves elsewhere, then it is refused', async () => {
    expect(await assessTarget('http://localhost:8880/scim', development, dns)).toBeUndefined();
    expect((await assessTarget('http://rebound.localhost/scim', development, dns))?.rule).toBe(
      'private-address',
    );
    expect(
      (await assessTarget('http://rebound.localhost/scim', { allowLoopback: true, allowPrivate: true }, dns))
        ?.rule,
    ).toBe('https-required');
  });

  test('given a name that does not resolve, then the API does not refuse it (the worker checks each connection)', async () => {
    expect(await assessTarget('https://nowhere.example.com/scim', strict, dns)).toBeUndefined();
  });

  test('given the static rules fail, then DNS is not asked', async () => {
    const resolve = jest.fn(dns);
    expect((await assessTarget('https://u:p@scim.example.com/', strict, resolve))?.rule).toBe(
      'credentials-in-url',
    );
    expect(resolve).not.toHaveBeenCalled();
  });
});

describe('the connection-time lookup', () => {
  const lookupOnce = (
    lookup: ReturnType<typeof guardedLookup>,
    hostname: string,
    options: { all?: boolean } = {},
  ) =>
    new Promise<{ error: Error | null; address: unknown; family?: number }>((resolve) =>
      lookup(hostname, options, (error, address, family) => resolve({ error, address, family })),
    );

  test('given a host that now resolves to a metadata address, then the connection is refused with the rule', async () => {
    let answer = '93.184.215.14';
    const lookup = guardedLookup(strict, { resolve: async () => [{ address: answer, family: 4 }] });

    expect(await lookupOnce(lookup, 'scim.example.com')).toEqual({
      error: null,
      address: '93.184.215.14',
      family: 4,
    });
    answer = '169.254.169.254';
    const { error } = await lookupOnce(lookup, 'scim.example.com');

    expect(error).toBeInstanceOf(TargetRefusedError);
    expect((error as TargetRefusedError).rule).toBe('metadata-address');
  });

  test('given a lookup for every address (happy eyeballs), then every address is given back once all pass', async () => {
    const addresses = [
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ];
    const lookup = guardedLookup(strict, { resolve: async () => addresses });
    expect(await lookupOnce(lookup, 'scim.example.com', { all: true })).toEqual({
      error: null,
      address: addresses,
      family: undefined,
    });
  });

  test('given the http agent (loopback only), then a public address is refused too', async () => {
    const lookup = guardedLookup(development, {
      loopbackOnly: true,
      resolve: async () => [{ address: '93.184.215.14', family: 4 }],
    });
    expect(((await lookupOnce(lookup, 'localhost')).error as TargetRefusedError).rule).toBe('https-required');
  });

  test('given DNS fails, then its error is passed on as is', async () => {
    const lookup = guardedLookup(strict, { resolve: resolverOf({}) });
    expect((await lookupOnce(lookup, 'nowhere.example.com')).error).toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('what is shown of a URL and of an answer', () => {
  test('given a URL with credentials (stored before they were refused), then they are taken out', () => {
    expect(withoutUrlCredentials('https://admin:hunter2@acme.example.com/scim/v2')).toBe(
      'https://acme.example.com/scim/v2',
    );
    expect(withoutUrlCredentials('https://acme.example.com/scim/v2')).toBe(
      'https://acme.example.com/scim/v2',
    );
  });

  test('given an HTML error page, then a short line of plain text is quoted', () => {
    const page = `<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{color:red}</style>
      <script>alert('x')</script></head><body><h1>Bad&nbsp;Gateway</h1>\u0000\u001b[31m<p>upstream ${'x'.repeat(5000)}</p></body></html>`;
    const excerpt = plainExcerpt(page);

    expect(excerpt.startsWith('502 Bad Gateway Bad Gateway [31m upstream xxx')).toBe(true);
    expect(excerpt.length).toBeLessThanOrEqual(200);
    expect(excerpt).not.toMatch(/[<>]|alert|color:red/);
    expect(excerpt).not.toMatch(/\p{Cc}/u);
  });

  test('given a plain SCIM detail, then it is kept as it is', () => {
    expect(plainExcerpt('userName must be <= 256 characters')).toBe('userName must be <= 256 characters');
  });
});
