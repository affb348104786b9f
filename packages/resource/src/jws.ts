/**
 * Compact JWS parsing and signature verification (RFC 7515 §7.1, §5.2) with node:crypto KeyObjects,
 * restricted as RFC 8725 §3.1-§3.2 asks: the algorithm comes from an allow-list and must match the key
 * type (no `none`, no HMAC, so no HS/RS confusion), and the base64url segments are decoded strictly.
 */
import { constants, type KeyObject, verify } from 'node:crypto';
import { invalidToken } from './errors.ts';

/** The asymmetric JWS algorithms (RFC 7518 §3, RFC 8037 §3.1) this library can verify. */
export type JwsAlgorithm =
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'EdDSA';

export const supportedAlgorithms: readonly JwsAlgorithm[] = [
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
];

interface AlgorithmSpec {
  hash: string | null;
  kty: 'EC' | 'RSA' | 'OKP';
  crv?: string;
  pss?: number;
}

const algorithms: Record<JwsAlgorithm, AlgorithmSpec> = {
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

export function isSupportedAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === 'string' && Object.hasOwn(algorithms, alg);
}

/** A public key imported once, with what is needed to match it to a JWS `alg`. */
export interface VerificationKey {
  kid: string | undefined;
  key: KeyObject;
  kty: string;
  crv: string | undefined;
  /** The JWK's `alg`, when it names one: the key is then used for that algorithm only. */
  alg: string | undefined;
}

/** RFC 8725 §3.1: a key is only used with an algorithm of its own type (and its `alg`, when declared). */
export function keyMatchesAlgorithm(key: VerificationKey, alg: JwsAlgorithm): boolean {
  const spec = algorithms[alg];
  if (key.alg !== undefined && key.alg !== alg) return false;
  if (key.kty !== spec.kty) return false;
  return spec.crv === undefined || key.crv === spec.crv;
}

/** Verifies `signature` over `signingInput` (the first two segments, ASCII) with `key` for `alg`. */
export function verifySignature(
  alg: JwsAlgorithm,
  key: KeyObject,
  signingInput: Buffer,
  signature: Buffer,
): boolean {
  const spec = algorithms[alg];
  try {
    switch (spec.kty) {
      case 'EC':
        return verify(spec.hash, signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'RSA':
        if (spec.pss !== undefined) {
          return verify(
            spec.hash,
            signingInput,
            { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.pss },
            signature,
          );
        }
        return verify(spec.hash, signingInput, key, signature);
      case 'OKP':
        return verify(null, signingInput, key, signature);
    }
  } catch {
    // A signature of the wrong length or a key OpenSSL rejects: not a valid signature, never an exception.
    return false;
  }
}

/** `verifySignature` in the libuv thread pool (node:crypto's callback form); never rejects. */
export function verifySignatureAsync(
  alg: JwsAlgorithm,
  key: KeyObject,
  signingInput: Buffer,
  signature: Buffer,
): Promise<boolean> {
  const spec = algorithms[alg];
  const keyInput =
    spec.kty === 'EC'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : spec.pss !== undefined
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.pss }
        : key;
  return new Promise((resolve) => {
    try {
      verify(spec.hash, signingInput, keyInput, signature, (error, valid) =>
        resolve(error === null && valid),
      );
    } catch {
      resolve(false);
    }
  });
}

const base64UrlSegment = /^[A-Za-z0-9_-]*$/;

/** Strict base64url (RFC 7515 §2): no padding, no other characters, no impossible length. */
export function decodeBase64Url(segment: string): Buffer | undefined {
  if (segment.length % 4 === 1 || !base64UrlSegment.test(segment)) return undefined;
  return Buffer.from(segment, 'base64url');
}

function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64Url(segment);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export interface ParsedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

/** Splits and decodes a compact JWS with a JSON object payload; throws `invalid_token` if malformed. */
export function parseCompactJws(token: string): ParsedJws {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) !== -1) {
    throw invalidToken('malformed_token', 'the token is not a compact JWS');
  }
  const header = decodeJsonObject(token.slice(0, first));
  const payload = decodeJsonObject(token.slice(first + 1, second));
  const signature = decodeBase64Url(token.slice(second + 1));
  if (header === undefined || payload === undefined || signature === undefined) {
    throw invalidToken('malformed_token', 'the token is not a well-formed JWS');
  }
  return { header, payload, signingInput: Buffer.from(token.slice(0, second), 'latin1'), signature };
}

/** RFC 7515 §4.1.9: `typ` compares case-insensitively and may omit the `application/` prefix. */
export function normalizeMediaType(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
