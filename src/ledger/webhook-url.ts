// Where a webhook may point: http(s) only, no credentials, and (unless PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE) never an
// address inside the network — checked when the URL is set (literal IPs, and every address the name resolves to)
// and again at every delivery, on the address the connection is then pinned to (so DNS rebinding cannot switch it).
import dns from 'node:dns';
import net from 'node:net';

/** Why an address is refused, as `details.reason` and in the log. */
export type AddressClass =
  | 'metadata'
  | 'loopback'
  | 'private'
  | 'unique_local'
  | 'link_local'
  | 'cgnat'
  | 'unspecified'
  | 'multicast'
  | 'reserved';

const DESCRIBE: Record<AddressClass, string> = {
  metadata: 'a cloud metadata address',
  loopback: 'a loopback address',
  private: 'a private (RFC 1918) address',
  unique_local: 'a unique local (fc00::/7) address',
  link_local: 'a link-local address',
  cgnat: 'a shared (CGNAT, 100.64.0.0/10) address',
  unspecified: 'an unspecified (0.0.0.0/8, ::) address',
  multicast: 'a multicast address',
  reserved: 'a reserved or special-purpose address',
};

// Most specific first: 169.254.169.254 is link-local too, but "metadata" says more.
const RANGES: Array<[AddressClass, Array<[string, number, 'ipv4' | 'ipv6']>]> = [
  [
    'metadata',
    [
      ['169.254.169.254', 32, 'ipv4'], // AWS, GCP, Azure, OpenStack…
      ['169.254.170.2', 32, 'ipv4'], // AWS ECS task metadata
      ['100.100.100.200', 32, 'ipv4'], // Alibaba Cloud
      ['fd00:ec2::254', 128, 'ipv6'], // AWS over IPv6
    ],
  ],
  ['loopback', [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]],
  ['unspecified', [['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']]],
  ['private', [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fec0::', 10, 'ipv6']]],
  ['unique_local', [['fc00::', 7, 'ipv6']]],
  ['link_local', [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]],
  ['cgnat', [['100.64.0.0', 10, 'ipv4']]],
  ['multicast', [['224.0.0.0', 4, 'ipv4'], ['ff00::', 8, 'ipv6']]],
  [
    'reserved',
    [
      ['192.0.0.0', 24, 'ipv4'],
      ['192.0.2.0', 24, 'ipv4'],
      ['198.18.0.0', 15, 'ipv4'],
      ['198.51.100.0', 24, 'ipv4'],
      ['203.0.113.0', 24, 'ipv4'],
      ['240.0.0.0', 4, 'ipv4'], // and 255.255.255.255
      // IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4): refused whole rather than decoded,
      // so no embedded 127.0.0.1 or 10.x can slip through; no real endpoint is published this way.
      ['::ffff:0:0', 96, 'ipv6'],
      ['::', 96, 'ipv6'],
      ['64:ff9b::', 96, 'ipv6'],
      ['64:ff9b:1::', 48, 'ipv6'],
      ['2002::', 16, 'ipv6'],
      ['100::', 64, 'ipv6'],
      ['2001:db8::', 32, 'ipv6'],
    ],
  ],
];

const LISTS: Array<[AddressClass, net.BlockList]> = RANGES.map(([cls, subnets]) => {
  const bl = new net.BlockList();
  for (const [addr, prefix, type] of subnets) bl.addSubnet(addr, prefix, type);
  return [cls, bl];
});

/** The class that makes an IP address off limits, or null for a public unicast address. */
export function classifyAddress(ip: string): AddressClass | null {
  const v = net.isIP(ip);
  if (v === 0) return 'reserved';
  const type = v === 4 ? 'ipv4' : 'ipv6';
  for (const [cls, bl] of LISTS) if (bl.check(ip, type)) return cls;
  return null;
}

export class WebhookUrlError extends Error {
  constructor(
    readonly reason: AddressClass | 'scheme' | 'credentials' | 'malformed' | 'unresolvable',
    message: string,
    readonly address?: string,
  ) {
    super(message);
  }
}

export const describeClass = (c: AddressClass): string => DESCRIBE[c];

/** The URL's host as an address when it is a literal IP (brackets of an IPv6 literal removed), else null. */
export function literalAddress(u: URL): string | null {
  const h = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return net.isIP(h) ? h : null;
}

/** Parses and checks the form of a webhook URL (scheme, credentials); addresses are checked by checkWebhookUrl. */
export function parseWebhookUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new WebhookUrlError('malformed', 'url is not an absolute URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new WebhookUrlError('scheme', `url must be http or https, not ${u.protocol.slice(0, -1)}`);
  if (u.username || u.password) throw new WebhookUrlError('credentials', 'url must not carry credentials (user:password@); authenticate deliveries by their signature');
  return u;
}

/** Refuses an address unless private ones are allowed. */
function refuseAddress(host: string, address: string): void {
  const cls = classifyAddress(address);
  if (cls) {
    const via = host === address ? '' : ` (${host} resolves to ${address})`;
    throw new WebhookUrlError(cls, `url points to ${describeClass(cls)}${via}; set PROOFSTREAM_WEBHOOK_ALLOW_PRIVATE=1 to allow internal endpoints`, address);
  }
}

/**
 * The whole check done when a URL is set: form, then the literal address or every address the host name resolves
 * to (any refused one refuses the URL). Resolution is bounded by `timeoutMs`.
 */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean, timeoutMs = 5000): Promise<URL> {
  const u = parseWebhookUrl(raw);
  if (allowPrivate) return u;
  const literal = literalAddress(u);
  if (literal) {
    refuseAddress(literal, literal);
    return u;
  }
  let timer: NodeJS.Timeout | undefined;
  const addrs = await Promise.race([
    dns.promises.lookup(u.hostname, { all: true, verbatim: true }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    }),
  ])
    .catch((e: Error) => {
      throw new WebhookUrlError('unresolvable', `url host ${u.hostname} does not resolve: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
    })
    .finally(() => clearTimeout(timer));
  if (addrs.length === 0) throw new WebhookUrlError('unresolvable', `url host ${u.hostname} resolves to no address`);
  for (const a of addrs) refuseAddress(u.hostname, a.address);
  return u;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request: resolves the name, refuses it if any address is off limits, and hands the socket
 * exactly one address, so the connection goes where the check looked. Handles both call shapes net uses (`all`
 * with autoSelectFamily, a single address without).
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { all: true, verbatim: true, family: options.family ?? 0 }, (err, addrs) => {
      if (err) return callback(err, '');
      const list = addrs as dns.LookupAddress[];
      if (list.length === 0) return callback(Object.assign(new Error(`${hostname} resolves to no address`), { code: 'ENOTFOUND' }), '');
      if (!allowPrivate) {
        for (const a of list) {
          try {
            refuseAddress(hostname, a.address);
          } catch (e) {
            return callback(Object.assign(e as Error, { code: 'EADDRREFUSED' }), '');
          }
        }
      }
      const pinned = list[0]!;
      if (options.all) callback(null, [pinned]);
      else callback(null, pinned.address, pinned.family);
    });
  };
}

/** At delivery, before connecting: a literal address is never passed to lookup, so it is checked here. */
export function checkLiteralAtDelivery(u: URL, allowPrivate: boolean): void {
  if (allowPrivate) return;
  const literal = literalAddress(u);
  if (literal) refuseAddress(literal, literal);
}
