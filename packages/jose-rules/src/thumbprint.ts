/**
 * JWK thumbprints (RFC 7638): the SHA-256 of the key's required members (§3.2: EC `crv`, `kty`, `x`, `y`;
 * RSA `e`, `kty`, `n`; OKP `crv`, `kty`, `x` per RFC 8037 §2) in lexicographic order, serialised without
 * whitespace (§3.3), base64url-encoded: the `jkt` of RFC 9449 §6.1 and the `dpop_jkt` of §10.
 */
import { createHash } from 'node:crypto';

const requiredMembers: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/**
 * The required members of a public JWK in RFC 7638 order, all strings; undefined for another key type or a
 * missing member. Other members (`kid`, `alg`, `use`, private ones) are left out.
 */
export function thumbprintMembers(
  jwk: Readonly<Record<string, unknown>>,
): Record<string, string> | undefined {
  const members = typeof jwk.kty === 'string' ? requiredMembers[jwk.kty] : undefined;
  if (members === undefined) return undefined;
  const canonical: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string') return undefined;
    canonical[member] = value;
  }
  return canonical;
}

/** The RFC 7638 SHA-256 thumbprint of a public JWK, base64url; undefined when it lacks a required member. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const canonical = thumbprintMembers(jwk);
  return canonical === undefined ? undefined : thumbprintOf(canonical);
}

/** The thumbprint of members already in RFC 7638 order (from `thumbprintMembers`). */
export function thumbprintOf(canonical: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}
