import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';

/*
 * What the login throttle counts against: a folded username and an address bucket. Both fold
 * generously on purpose. Over-folding costs at most that two distinct accounts share a counter
 * (Unix names are lowercase ASCII by convention, so real collisions are rare); under-folding hands
 * an attacker extra guesses for free.
 */

/** The bucket every string that is not an IP address shares, so garbage cannot dodge the IP limit. */
export const UNKNOWN_IP = 'unknown';

/**
 * The name a username's failures are counted under: NFKC, lowercased, NFKC again (lowercasing can
 * leave a string that is no longer normalised). `Alice`, `alice` and fullwidth `ＡＬＩＣＥ` are one
 * counter, because LDAP matches `uid` case-insensitively (and some servers fold compatibility
 * characters), and NSS front-ends like sssd may be case-insensitive too: were each variant its own
 * counter, cycling through them would multiply the guesses an attacker gets against one account.
 * Never throws.
 */
export function throttleUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/**
 * The folded username as it appears in key names: sha256, base64url. Hashed so that a Redis dump
 * does not list every name anyone typed, including passwords typed into the username field.
 * Never throws.
 */
export function usernameDigest(username: string): string {
  return createHash('sha256').update(throttleUsername(username), 'utf8').digest('base64url');
}

/**
 * The bucket an address's failures are counted under: an IPv4 address as is; an IPv4-mapped IPv6
 * address (`::ffff:192.0.2.1`, what a dual-stack socket reports) as its IPv4 address; any other
 * IPv6 address as its /64 in RFC 5952 form (`2001:db8:1:2::/64`), because one host or customer
 * usually gets a whole /64 and would otherwise have 2^64 fresh counters. Brackets and a zone
 * (`%eth0`) are ignored, and a bucket maps to itself. A string that is not an address maps to
 * UNKNOWN_IP. Never throws.
 */
export function throttleIp(ip: string): string {
  const bucket = /^(.*:.*)\/64$/.exec(ip.trim());
  const address = plainAddress(bucket?.[1] ?? ip);
  if (bucket && address?.family !== 6) return UNKNOWN_IP;
  if (address === undefined) return UNKNOWN_IP;
  if (address.family === 4) return address.text;
  return `${formatIPv6([...address.hextets.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/**
 * Parses what an operator may type for an address bucket: an address, or an IPv6 /64 as
 * throttleIp prints it. Undefined when it is neither (a username, most likely). Never throws.
 */
export function parseThrottleIp(text: string): string | undefined {
  const bucket = throttleIp(text);
  return bucket === UNKNOWN_IP ? undefined : bucket;
}

/**
 * A predicate for "never IP-ban this address" from IPs and CIDRs (`10.0.0.0/8`, `2001:db8::/32`).
 * The address is tested whole (not its /64), IPv4-mapped addresses as IPv4. Throws a TypeError
 * naming the first entry that is neither an address nor a CIDR.
 */
export function createAllowList(entries: readonly string[]): (ip: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    const cidr = parseCidr(entry);
    if (!cidr) throw new TypeError(`allowList entry '${entry}' is not an IP address or CIDR`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
  }
  return (ip) => {
    const address = plainAddress(ip);
    if (!address) return false;
    return list.check(address.text, address.family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** `addr` or `addr/prefix` with a prefix that fits the family; undefined otherwise. Never throws. */
export function parseCidr(entry: string): { address: string; prefix: number; family: 4 | 6 } | undefined {
  const trimmed = entry.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const address = plainAddress(addressText);
  if (!address || addressText.includes('%')) return undefined;
  // The prefix length counts in the family as written: `::ffff:10.0.0.0/104` is 10.0.0.0/8.
  const writtenBits = isIP(addressText) === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(writtenBits) : trimmed.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText) - (writtenBits - (address.family === 4 ? 32 : 128));
  if (prefix < 0 || prefix > (address.family === 4 ? 32 : 128) || Number(prefixText) > writtenBits) return undefined;
  return { address: address.text, prefix, family: address.family };
}

type PlainAddress = { family: 4; text: string } | { family: 6; text: string; hextets: number[] };

/** An address without brackets or zone, IPv4-mapped IPv6 turned into IPv4; undefined if not an address. */
function plainAddress(ip: string): PlainAddress | undefined {
  let text = ip.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const family = isIP(text);
  if (family === 4) return { family: 4, text };
  if (family !== 6) return undefined;
  const hextets = expandIPv6(text);
  if (!hextets) return undefined;
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    const [hi = 0, lo = 0] = hextets.slice(6);
    return { family: 4, text: `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}` };
  }
  return { family: 6, text: formatIPv6(hextets), hextets };
}

/** The eight 16-bit groups of an address isIP already accepted as IPv6 (a dotted tail included). */
function expandIPv6(text: string): number[] | undefined {
  let body = text.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(body);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    body = `${body.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = body.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (2+) of zero groups as `::`. */
function formatIPv6(hextets: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < hextets.length; ) {
    if (hextets[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < hextets.length && hextets[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = hextets.map((h) => h.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
