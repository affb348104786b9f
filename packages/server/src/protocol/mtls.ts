/**
 * Mutual-TLS client authentication and certificate-bound tokens (RFC 8705); the adapter only reads the
 * certificate (endpoints/client-certificate.ts). Trust (§2.1): verified against `mtls.ca` by TLS, or, when
 * forwarded by a trusted proxy, found issued by one of those CAs here. `tls_client_auth` (§2.1.2) matches
 * the registered subject DN (as a set of RFC 4514 pairs, order-free) or one subjectAltName;
 * `self_signed_tls_client_auth` (§2.2) matches a registered key. Bound tokens carry `cnf.x5t#S256` (§3.1).
 * Certificates outside their validity period are refused for both methods (the stricter reading).
 */
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import { tlsAuthMethods } from '../config/clients.ts';
import type { ServerContext } from '../context.ts';
import type { Client, ClientAuthentication } from '../model.ts';
import { withRegisteredKeys } from './client-keys.ts';
import { invalidClient, OAuthError } from './errors.ts';

export interface PresentedCertificate {
  certificate: X509Certificate;
  /** The chain was verified against the CAs configured for client certificates (`mtls.ca`). */
  trusted: boolean;
}

/** Every certificate in a PEM bundle. */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/** The CAs trusted for `tls_client_auth` (`mtls.ca`), and how far a presented certificate is trusted. */
export class CertificateAuthorities {
  private readonly authorities: X509Certificate[];

  /** `pem` is the `mtls.ca` bundle (`source` names it in the error when it holds no certificate). */
  constructor(
    readonly pem: string | undefined,
    source?: string,
  ) {
    this.authorities = pem === undefined ? [] : parseCertificateBundle(pem);
    if (pem !== undefined && this.authorities.length === 0)
      throw new Error(`config mtls.ca: ${source} holds no certificate`);
  }

  /** A certificate from this server's TLS layer, which `authorized` it against these CAs (or not). */
  fromTls(certificate: X509Certificate, authorized: boolean): PresentedCertificate {
    return { certificate, trusted: authorized && this.authorities.length > 0 };
  }

  /** A certificate forwarded by a trusted proxy: its chain is checked here. */
  fromProxy(certificate: X509Certificate, now: number): PresentedCertificate {
    return { certificate, trusted: issuedByAuthority(certificate, this.authorities, now) };
  }
}

/** RFC 8705 §3.1: `x5t#S256`. */
export function certificateThumbprint(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

/** True when `now` (seconds since the epoch) is inside the certificate's validity period. */
export function certificateCurrent(certificate: X509Certificate, now: number): boolean {
  const from = Date.parse(certificate.validFrom) / 1000;
  const to = Date.parse(certificate.validTo) / 1000;
  return Number.isFinite(from) && Number.isFinite(to) && from <= now && now <= to;
}

/**
 * True when the certificate was issued and signed by one of `authorities` (directly: a leaf under a CA
 * the operator configured) and is current. Used for certificates a trusted proxy forwards, whose chain
 * the TLS layer of this server never saw.
 */
export function issuedByAuthority(
  certificate: X509Certificate,
  authorities: readonly X509Certificate[],
  now: number,
): boolean {
  if (!certificateCurrent(certificate, now)) return false;
  return authorities.some(
    (authority) =>
      authority.ca &&
      certificateCurrent(authority, now) &&
      certificate.checkIssued(authority) &&
      certificate.verify(authority.publicKey),
  );
}

/** Splits an RFC 4514 string (`CN=a\,b,O=Example`) into normalised `TYPE=value` pairs. */
export function parseDistinguishedName(dn: string): string[] {
  // Split on the separators that are not escaped; each part is unescaped by normalisePair.
  return splitUnescaped(dn, /[,+]/)
    .map(normalisePair)
    .filter((pair) => pair !== '=');
}

function splitUnescaped(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let current = '';
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    if (character === '\\' && index + 1 < text.length) {
      current += character + text[index + 1];
      index += 1;
    } else if (separator.test(character)) {
      parts.push(current);
      current = '';
    } else {
      current += character;
    }
  }
  parts.push(current);
  return parts;
}

/** RFC 4514 §2.4 escapes: a backslash before a special character, or runs of `\hh` (UTF-8 bytes). */
function unescapeValue(value: string): string {
  return value.replace(
    /((?:\\[0-9A-Fa-f]{2})+)|\\(.)/gsu,
    (_match, hexRun: string | undefined, character: string) =>
      hexRun === undefined ? character : Buffer.from(hexRun.replace(/\\/g, ''), 'hex').toString('utf8'),
  );
}

function normalisePair(pair: string): string {
  const equals = pair.indexOf('=');
  if (equals < 0) return `${pair.trim().toUpperCase()}=`;
  return `${pair.slice(0, equals).trim().toUpperCase()}=${unescapeValue(pair.slice(equals + 1).trim())}`;
}

/** Node's `X509Certificate.subject` lists one `TYPE=value` per line, RFC 4514 escaped. */
function certificateSubjectPairs(certificate: X509Certificate): string[] {
  return certificate.subject
    .split('\n')
    .filter((line) => line !== '')
    .flatMap((line) => splitUnescaped(line, /\+/))
    .map(normalisePair);
}

function sameSet(left: string[], right: string[]): boolean {
  if (left.length !== right.length) return false;
  const sortedLeft = [...left].sort();
  const sortedRight = [...right].sort();
  return sortedLeft.every((value, index) => value === sortedRight[index]);
}

/** subjectAltName entries as `[type, value]` (node quotes values that contain separators). */
export function subjectAltNames(certificate: X509Certificate): [string, string][] {
  const text = certificate.subjectAltName;
  if (text === undefined) return [];
  const entries: [string, string][] = [];
  const pattern = /(DNS|URI|IP Address|email|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const match of text.matchAll(pattern)) {
    const raw = match[2]!;
    entries.push([match[1]!, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw]);
  }
  return entries;
}

function sameIp(registered: string, presented: string): boolean {
  const list = new BlockList();
  const family = isIPv4(registered) ? 'ipv4' : 'ipv6';
  list.addAddress(registered, family);
  try {
    return list.check(presented, isIPv4(presented) ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}

/** RFC 8705 §2.1.2: the registered subject DN or SAN value matches the certificate. */
export function matchesRegisteredIdentity(certificate: X509Certificate, auth: ClientAuthentication): boolean {
  if (auth.tlsClientAuthSubjectDn !== undefined)
    return sameSet(parseDistinguishedName(auth.tlsClientAuthSubjectDn), certificateSubjectPairs(certificate));
  const names = subjectAltNames(certificate);
  const has = (type: string, matches: (value: string) => boolean) =>
    names.some(([entryType, value]) => entryType === type && matches(value));
  if (auth.tlsClientAuthSanDns !== undefined) {
    const expected = auth.tlsClientAuthSanDns.toLowerCase();
    return has('DNS', (value) => value.toLowerCase() === expected);
  }
  if (auth.tlsClientAuthSanUri !== undefined)
    return has('URI', (value) => value === auth.tlsClientAuthSanUri);
  if (auth.tlsClientAuthSanIp !== undefined)
    return has('IP Address', (value) => sameIp(auth.tlsClientAuthSanIp!, value));
  if (auth.tlsClientAuthSanEmail !== undefined) {
    const expected = auth.tlsClientAuthSanEmail.toLowerCase();
    return has('email', (value) => value.toLowerCase() === expected);
  }
  return false;
}

/** RFC 8705 §2.2: the certificate is one the client registered in its JWKS. */
export function matchesRegisteredKey(certificate: X509Certificate, keys: readonly Record<string, unknown>[]) {
  const der = certificate.raw.toString('base64');
  return keys.some((jwk) => {
    if (Array.isArray(jwk.x5c)) return jwk.x5c[0] === der;
    try {
      return createPublicKey({ key: jwk as never, format: 'jwk' }).equals(certificate.publicKey);
    } catch {
      return false;
    }
  });
}

/** RFC 8705 §2: authenticates a client registered for a TLS method by the certificate it presented. */
export async function verifyClientCertificate(
  ctx: ServerContext,
  client: Client,
  presented: PresentedCertificate | undefined,
): Promise<void> {
  if (presented === undefined) throw invalidClient('a client certificate is required (mutual TLS)');
  const { certificate } = presented;
  if (!certificateCurrent(certificate, ctx.now()))
    throw invalidClient('the client certificate is not valid now');
  if (client.tokenEndpointAuthMethod === 'tls_client_auth') {
    if (!presented.trusted || !matchesRegisteredIdentity(certificate, client.authentication))
      throw invalidClient('the client certificate does not match the client');
    return;
  }
  const matched = await withRegisteredKeys(ctx, client, async (jwks) =>
    matchesRegisteredKey(certificate, jwks.keys) ? true : undefined,
  );
  if (matched === undefined) throw invalidClient('the client certificate does not match the client');
}

const unbound: { x5tS256?: string } = Object.freeze({});

/**
 * RFC 8705 §3: tokens are bound to the client certificate (`cnf.x5t#S256`) when the client registered for
 * certificate-bound access tokens (a request without a certificate is then refused) or authenticated with
 * its certificate. Called after authentication, so a TLS-method client has presented one.
 */
export function certificateBinding(
  client: Client,
  request: { certificate: PresentedCertificate | undefined },
): { x5tS256?: string } {
  const bound =
    client.authentication.tlsClientCertificateBoundAccessTokens === true ||
    tlsAuthMethods.includes(client.tokenEndpointAuthMethod);
  if (!bound) return unbound;
  if (request.certificate === undefined)
    throw new OAuthError('invalid_request', 'this client needs a client certificate for bound access tokens');
  return { x5tS256: certificateThumbprint(request.certificate.certificate) };
}
