import dns from 'node:dns';
import net from 'node:net';

/**
 * Which SCIM targets scimflow may call. A `baseUrl` is a request the API's users make the worker send from inside
 * the network, with the app's credentials attached: pointed at a cloud metadata service or an internal admin
 * port it would read or change what no directory admin should reach (SSRF). So the URL must be https with no
 * credentials in it, its host must not be a metadata, link-local, unspecified or reserved address, and loopback
 * or private addresses need an explicit allow. The same rules are applied when an app is saved (the API answers
 * 400 naming the rule) and again on every connection the SCIM client opens, to the addresses the host resolves
 * to then, so a name that later resolves elsewhere (DNS rebinding) is caught too.
 */
export interface TargetPolicy {
  /** http:// and https:// to 127.0.0.0/8, ::1 and `localhost` (development: `npm start`, the demo target). */
  allowLoopback: boolean;
  /** 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7 (and the deprecated fec0::/10). */
  allowPrivate: boolean;
}

export type TargetRule =
  | 'invalid-url'
  | 'https-required'
  | 'credentials-in-url'
  | 'metadata-address'
  | 'link-local-address'
  | 'unspecified-address'
  | 'reserved-address'
  | 'loopback-address'
  | 'private-address';

export interface TargetRefusal {
  rule: TargetRule;
  message: string;
}

/** A connection the SCIM client was about to open and the policy refused; carried through the socket's error. */
export class TargetRefusedError extends Error {
  readonly code = 'ERR_UNSAFE_TARGET';
  readonly rule: TargetRule;

  constructor(refusal: TargetRefusal) {
    super(refusal.message);
    this.name = 'TargetRefusedError';
    this.rule = refusal.rule;
  }
}

export type AddressClass =
  'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'reserved';

function blockList(subnets: string[]): net.BlockList {
  const list = new net.BlockList();
  for (const subnet of subnets) {
    const [address, prefix] = subnet.split('/');
    const type = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

// Checked in this order: the first list an address is on names its class. A BlockList matches an IPv4-mapped
// IPv6 address (::ffff:a.b.c.d) against its IPv4 entries by itself.
const addressClasses: [AddressClass, net.BlockList][] = [
  [
    'metadata',
    blockList([
      '169.254.169.254', // AWS, GCP, Azure, OCI, OpenStack instance metadata
      '169.254.170.2', // AWS ECS task metadata and credentials
      'fd00:ec2::254', // AWS instance metadata over IPv6
      'fd00:ec2::23', // AWS EKS pod identity
      '100.100.100.200', // Alibaba Cloud instance metadata
      '168.63.129.16', // Azure WireServer: a public-looking address that only the platform answers
    ]),
  ],
  ['unspecified', blockList(['0.0.0.0/8', '::'])], // connecting to 0.0.0.0 or :: reaches this host
  ['loopback', blockList(['127.0.0.0/8', '::1'])],
  ['link-local', blockList(['169.254.0.0/16', 'fe80::/10'])],
  [
    'private',
    blockList(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fec0::/10']),
  ],
  [
    'reserved',
    blockList([
      '192.0.0.0/24', // IETF protocol assignments
      '198.18.0.0/15', // benchmarking
      '224.0.0.0/4', // multicast
      '240.0.0.0/4', // reserved, and 255.255.255.255
      'ff00::/8', // multicast
      '100::/64', // discard
      '::/96', // IPv4-compatible (deprecated); what it embeds is never a SCIM target
    ]),
  ],
];

/** Host names that are a metadata service whatever they resolve to. */
const metadataNames = new Set(['metadata.google.internal', 'metadata.goog']);

// IPv6 forms that carry an IPv4 address in their low 32 bits; the IPv4 address decides. NAT64 (RFC 6052) must
// stay usable: an IPv6-only network reaches every public IPv4 target through it. 6to4 (2002::/16) carries it
// in bits 16–48.
const nat64 = blockList(['64:ff9b::/96']);
const sixToFour = blockList(['2002::/16']);

/** The eight 16-bit groups of a valid IPv6 address (`net.isIP(address) === 6`). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].map((group) => parseInt(group, 16));
}

function embeddedIpv4(address: string): string | undefined {
  const groups = ipv6Groups(address);
  const ipv4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  if (nat64.check(address, 'ipv6')) return ipv4(groups[6], groups[7]);
  if (sixToFour.check(address, 'ipv6')) return ipv4(groups[1], groups[2]);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return ipv4(groups[6], groups[7]);
  }
  return undefined;
}

/** What an IP address (v4 or v6 literal, without brackets) is, as far as reaching it from the worker goes. */
export function classifyAddress(address: string): AddressClass {
  const version = net.isIP(address);
  if (version === 0) throw new Error(`not an IP address: ${address}`);
  const type = version === 6 ? 'ipv6' : 'ipv4';
  // Metadata first, so fd00:ec2::254 is named for what it is rather than as a private address.
  const [metadata, unspecified, loopback] = addressClasses;
  for (const [name, list] of [metadata, unspecified, loopback]) {
    if (list.check(address, type)) return name;
  }
  const inner = version === 6 ? embeddedIpv4(address) : undefined;
  if (inner) return classifyAddress(inner);
  for (const [name, list] of addressClasses) {
    if (list.check(address, type)) return name;
  }
  return 'public';
}

const classNames: Record<Exclude<AddressClass, 'public'>, string> = {
  metadata: 'a cloud metadata address',
  unspecified: 'an unspecified address (this host)',
  loopback: 'a loopback address',
  'link-local': 'a link-local address',
  private: 'a private address',
  reserved: 'a reserved or multicast address',
};

/** The rule an address of this class breaks under the policy, if any. */
function ruleFor(addressClass: AddressClass, policy: TargetPolicy): TargetRule | undefined {
  switch (addressClass) {
    case 'public':
      return undefined;
    case 'loopback':
      return policy.allowLoopback ? undefined : 'loopback-address';
    case 'private':
      return policy.allowPrivate ? undefined : 'private-address';
    case 'metadata':
      return 'metadata-address';
    case 'link-local':
      return 'link-local-address';
    case 'unspecified':
      return 'unspecified-address';
    case 'reserved':
      return 'reserved-address';
  }
}

const remedies: Partial<Record<TargetRule, string>> = {
  'loopback-address': 'allowed only when SCIMFLOW_ALLOW_LOOPBACK_TARGETS is on (development)',
  'private-address': "allowed only with SCIMFLOW_ALLOW_PRIVATE_TARGETS or the app's allowPrivateNetwork",
};

function addressRefusal(
  where: string,
  address: string,
  addressClass: AddressClass,
  policy: TargetPolicy,
): TargetRefusal | undefined {
  const rule = ruleFor(addressClass, policy);
  if (!rule || addressClass === 'public') return undefined;
  const remedy = remedies[rule] ?? 'never allowed';
  return { rule, message: `${where} ${address}, ${classNames[addressClass]}: ${remedy}` };
}

function httpsRequired(detail: string): TargetRefusal {
  return {
    rule: 'https-required',
    message: `baseUrl must use https (${detail}; plain http is accepted only for a loopback target when SCIMFLOW_ALLOW_LOOPBACK_TARGETS is on)`,
  };
}

/** `[::1]` → `::1`, `Example.com.` → `example.com`. */
function normalizedHost(hostname: string): string {
  return hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost'); // RFC 6761 §6.3
}

/**
 * Everything that can be said of a base URL without asking DNS: scheme, credentials, and the host when it is an
 * IP literal or a name with a fixed meaning (`localhost`, metadata names). `undefined` when nothing is refused.
 */
export function checkTargetUrl(baseUrl: string, policy: TargetPolicy): TargetRefusal | undefined {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return { rule: 'invalid-url', message: 'baseUrl is not a valid URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return httpsRequired(`not ${url.protocol}`);
  if (url.username || url.password) {
    return {
      rule: 'credentials-in-url',
      message: 'baseUrl must not carry credentials (user:password@); put them in auth',
    };
  }
  const host = normalizedHost(url.hostname);
  let hostClass: AddressClass | undefined;
  if (net.isIP(host)) hostClass = classifyAddress(host);
  else if (metadataNames.has(host)) hostClass = 'metadata';
  else if (isLocalhostName(host)) hostClass = 'loopback';
  if (hostClass) {
    const refusal = addressRefusal('baseUrl points at', host, hostClass, policy);
    if (refusal) return refusal;
  }
  if (url.protocol === 'http:' && hostClass !== 'loopback') return httpsRequired(`http to ${host}`);
  return undefined;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Every address a host name resolves to (dns.lookup with `all`, as connections resolve it). */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const resolveWithDns: HostResolver = (hostname) => dns.promises.lookup(hostname, { all: true });

/**
 * The addresses a host name resolved to, each checked: one refused address refuses the name, since which one a
 * connection uses is not ours to choose. `loopbackOnly` for plain http, which only loopback may use.
 */
export function checkResolvedAddresses(
  host: string,
  addresses: ResolvedAddress[],
  policy: TargetPolicy,
  options: { loopbackOnly?: boolean } = {},
): TargetRefusal | undefined {
  for (const { address } of addresses) {
    const addressClass = classifyAddress(address);
    const refusal = addressRefusal(`baseUrl's host ${host} resolves to`, address, addressClass, policy);
    if (refusal) return refusal;
    if (options.loopbackOnly && addressClass !== 'loopback') {
      return httpsRequired(`http to ${host}, which resolves to ${address}`);
    }
  }
  return undefined;
}

/**
 * The whole check of a base URL, as the API makes it when an app is saved: the URL itself, then every address its
 * host name resolves to now. A name that does not resolve here is not refused: the worker may see other DNS, and
 * it checks what the name resolves to on every connection it opens.
 */
export async function assessTarget(
  baseUrl: string,
  policy: TargetPolicy,
  resolve: HostResolver = resolveWithDns,
): Promise<TargetRefusal | undefined> {
  const refusal = checkTargetUrl(baseUrl, policy);
  if (refusal) return refusal;
  const url = new URL(baseUrl);
  const host = normalizedHost(url.hostname);
  if (net.isIP(host)) return undefined;
  let addresses: ResolvedAddress[];
  try {
    addresses = await resolve(host);
  } catch {
    return undefined;
  }
  return checkResolvedAddresses(host, addresses, policy, { loopbackOnly: url.protocol === 'http:' });
}

/**
 * A `lookup` for sockets (`net.connect`, an http(s).Agent): resolves as dns.lookup does, then refuses the
 * connection with a `TargetRefusedError` when an address breaks the policy. This is the check at the moment of
 * connecting, on the very addresses the socket will use. IP literals never reach a lookup: check them with
 * `checkTargetUrl` before sending.
 */
export function guardedLookup(
  policy: TargetPolicy,
  options: { loopbackOnly?: boolean; resolve?: HostResolver } = {},
): net.LookupFunction {
  const resolve = options.resolve ?? resolveWithDns;
  return (hostname, lookupOptions, callback) => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) {
          return callback(
            Object.assign(new Error(`${hostname} resolves to no address`), { code: 'ENOTFOUND' }),
            '',
            0,
          );
        }
        const refusal = checkResolvedAddresses(normalizedHost(hostname), addresses, policy, options);
        if (refusal) return callback(new TargetRefusedError(refusal), '', 0);
        if (lookupOptions.all) return callback(null, addresses);
        callback(null, addresses[0].address, addresses[0].family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** The URL with any `user:password@` taken out, for showing an app stored before such URLs were refused. */
export function withoutUrlCredentials(baseUrl: string): string {
  try {
    const url = new URL(baseUrl);
    if (!url.username && !url.password) return baseUrl;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return baseUrl.replace(/\/\/[^/@]*@/, '//');
  }
}
