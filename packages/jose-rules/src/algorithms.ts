/**
 * JWS algorithm allow-lists (RFC 8725 §3.1-§3.2): the asymmetric algorithms of RFC 7518 §3.3-§3.5 and
 * RFC 8037 §3.1, each with the hash and key it needs. `none` and the HS* family are not in the list, so no
 * configuration can enable them, and an algorithm is only used with a key of its own type (RFC 8725 §3.1).
 */
import type { KeyObject } from 'node:crypto';

export const jwsAlgorithms = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;

export type JwsAlgorithm = (typeof jwsAlgorithms)[number];

export interface AlgorithmSpec {
  /** The digest node:crypto signs with; null for EdDSA, which hashes internally. */
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  kty: 'EC' | 'RSA' | 'OKP';
  /** The JWK curve (RFC 7518 §6.2.1.1, RFC 8037 §2) when the algorithm fixes one. */
  crv?: 'P-256' | 'P-384' | 'P-521' | 'Ed25519';
  /** RSASSA-PSS salt length in bytes (RFC 7518 §3.5: the size of the hash). */
  pss?: number;
}

export const algorithmSpecs: Readonly<Record<JwsAlgorithm, AlgorithmSpec>> = {
  ES256: { hash: 'sha256', kty: 'EC', crv: 'P-256' },
  ES384: { hash: 'sha384', kty: 'EC', crv: 'P-384' },
  ES512: { hash: 'sha512', kty: 'EC', crv: 'P-521' },
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  PS256: { hash: 'sha256', kty: 'RSA', pss: 32 },
  PS384: { hash: 'sha384', kty: 'RSA', pss: 48 },
  PS512: { hash: 'sha512', kty: 'RSA', pss: 64 },
  EdDSA: { hash: null, kty: 'OKP', crv: 'Ed25519' },
};

export function isJwsAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === 'string' && Object.hasOwn(algorithmSpecs, alg);
}

/** node:crypto's names of the JWK curves. */
const namedCurves: Readonly<Record<string, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
};

/**
 * Whether a public key can verify `alg`: the curve of the algorithm (RFC 7518 §3.4), an RSA modulus of at
 * least 2048 bits (§3.3, §3.5), an Ed25519 key for EdDSA.
 */
export function keyFitsAlgorithm(alg: JwsAlgorithm, key: KeyObject): boolean {
  const spec = algorithmSpecs[alg];
  const details = key.asymmetricKeyDetails;
  switch (spec.kty) {
    case 'EC':
      return key.asymmetricKeyType === 'ec' && details?.namedCurve === namedCurves[spec.crv!];
    case 'RSA':
      return key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048;
    case 'OKP':
      return key.asymmetricKeyType === 'ed25519';
  }
}
