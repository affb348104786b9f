/**
 * Compact JWS (RFC 7515 §7.1): the three segments, strict base64url (§2: no padding, no other characters,
 * no impossible length), and signature verification (§5.2) with node:crypto KeyObjects for the algorithms
 * of algorithms.ts (RFC 7518 §3.3-§3.5, RFC 8037 §3.1).
 */
import { constants, type KeyObject, verify } from 'node:crypto';
import { algorithmSpecs, type JwsAlgorithm } from './algorithms.ts';

const base64UrlSegment = /^[A-Za-z0-9_-]*$/;

/** Whether `segment` is strict base64url (RFC 7515 §2). */
export function isBase64Url(segment: string): boolean {
  return segment.length % 4 !== 1 && base64UrlSegment.test(segment);
}

/** Strict base64url decoding; undefined when the segment is not base64url. */
export function decodeBase64Url(segment: string): Buffer | undefined {
  return isBase64Url(segment) ? Buffer.from(segment, 'base64url') : undefined;
}

/** The JSON object in decoded bytes; undefined for invalid JSON or another JSON value. */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A base64url segment holding a JSON object (a JOSE header or JWT claims set); undefined otherwise. */
export function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64Url(segment);
  return bytes === undefined ? undefined : parseJsonObject(bytes);
}

/** The encoded segments of a compact JWS, not yet decoded. */
export interface JwsSegments {
  header: string;
  payload: string;
  signature: string;
  /** `header.payload`, the JWS Signing Input (§5.2 step 8 verifies the signature over its ASCII bytes). */
  signingInput: string;
}

/** Splits a compact JWS into its three segments; undefined unless there are exactly three and a header. */
export function splitCompactJws(token: string): JwsSegments | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) !== -1) return undefined;
  return {
    header: token.slice(0, first),
    payload: token.slice(first + 1, second),
    signature: token.slice(second + 1),
    signingInput: token.slice(0, second),
  };
}

/** Verifies `signature` over `signingInput` with `key` for `alg`; false, never an exception, when it fails. */
export function verifySignature(
  alg: JwsAlgorithm,
  key: KeyObject,
  signingInput: Buffer,
  signature: Buffer,
): boolean {
  const spec = algorithmSpecs[alg];
  try {
    return verify(spec.hash, signingInput, keyWithOptions(alg, key), signature);
  } catch {
    // A signature of the wrong length or a key OpenSSL rejects: not a valid signature.
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
  const spec = algorithmSpecs[alg];
  return new Promise((resolve) => {
    try {
      verify(spec.hash, signingInput, keyWithOptions(alg, key), signature, (error, valid) =>
        resolve(error === null && valid),
      );
    } catch {
      resolve(false);
    }
  });
}

export type KeyWithOptions =
  | KeyObject
  | { key: KeyObject; dsaEncoding: 'ieee-p1363' }
  | { key: KeyObject; padding: number; saltLength: number };

/**
 * The key with the options node:crypto signs and verifies `alg` with: ECDSA signatures are R || S
 * (RFC 7518 §3.4), PSS salts are the hash size (§3.5).
 */
export function keyWithOptions(alg: JwsAlgorithm, key: KeyObject): KeyWithOptions {
  const spec = algorithmSpecs[alg];
  if (spec.kty === 'EC') return { key, dsaEncoding: 'ieee-p1363' };
  if (spec.pss !== undefined) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.pss };
  return key;
}
