/**
 * Which addresses the server may connect to when it fetches a URL a client registered (a `jwks_uri`, RFC
 * 7591 §2): a guard against server-side request forgery (RFC 9700 §4.16). Loopback, private, CGNAT,
 * link-local, unique-local, multicast and reserved ranges are refused in IPv4 and IPv6, including IPv4
 * embedded in IPv6. The check runs inside the connection's own DNS lookup, so the address checked is the
 * address connected to (no DNS rebinding window).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, isIPv4 } from 'node:net';

/** A block list of the given address ranges (network address, prefix length). */
function blockList(family: 'ipv4' | 'ipv6', ranges: readonly (readonly [string, number])[]): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ranges) list.addSubnet(network, prefix, family);
  return list;
}

const blockedV4 = blockList('ipv4', [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
]);

const blockedV6 = blockList('ipv6', [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
]);

/** The eight 16-bit groups of an IPv6 address (with an embedded dotted quad converted). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const bytes = dotted[1]!.split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((bytes[0]! << 8) | bytes[1]!).toString(16)}:${((bytes[2]! << 8) | bytes[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const groups = [...left, ...new Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right];
  return groups.map((group) => Number.parseInt(group, 16));
}

/** The IPv4 address carried inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address. */
function embeddedIPv4(groups: number[]): string | undefined {
  const quad = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  const zeros = (count: number) => groups.slice(0, count).every((group) => group === 0);
  if (zeros(5) && groups[5] === 0xffff) return quad(groups[6]!, groups[7]!); // ::ffff:a.b.c.d
  if (zeros(6)) return quad(groups[6]!, groups[7]!); // ::a.b.c.d (deprecated compatible form)
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0))
    return quad(groups[6]!, groups[7]!); // 64:ff9b::/96 NAT64
  if (groups[0] === 0x2002) return quad(groups[1]!, groups[2]!); // 2002::/16 6to4
  return undefined;
}

/** True for an address the server must not connect to on a client's behalf. */
export function isNonPublicAddress(address: string): boolean {
  if (isIPv4(address)) return blockedV4.check(address, 'ipv4');
  if (isIP(address) !== 6) return true;
  const groups = ipv6Groups(address);
  if (groups === undefined) return true;
  const v4 = embeddedIPv4(groups);
  if (v4 !== undefined) return blockedV4.check(v4, 'ipv4');
  const canonical = groups.map((group) => group.toString(16)).join(':');
  return blockedV6.check(canonical, 'ipv6');
}

export class BlockedAddressError extends Error {
  constructor(address: string) {
    super(`refusing to connect to non-public address ${address}`);
    this.name = 'BlockedAddressError';
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request / net.connect that resolves as usual and fails with BlockedAddressError
 * when any resolved address is non-public (one bad answer taints the name).
 */
export function guardedLookup(
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: LookupCallback,
): void {
  dnsLookup(
    hostname,
    { all: true, ...(options.family ? { family: Number(options.family) || 0 } : {}) },
    (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      const blocked = addresses.find((entry) => isNonPublicAddress(entry.address));
      if (blocked !== undefined) {
        callback(new BlockedAddressError(blocked.address) as NodeJS.ErrnoException, []);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    },
  );
}
