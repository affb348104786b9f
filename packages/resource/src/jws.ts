/**
 * Compact JWS parsing and signature verification for access tokens (RFC 7515 §7.1, §5.2), restricted as
 * RFC 8725 §3.1-§3.2 asks: the algorithm comes from an allow-list and must match the key type (no `none`,
 * no HMAC, so no HS/RS confusion), and the base64url segments are decoded strictly. The algorithms and the
 * signature check are the shared ones of @gatehouse/jose-rules.
 */

import type { KeyObject } from 'node:crypto';
import {
  algorithmSpecs,
  decodeBase64Url,
  decodeJsonObject,
  isJwsAlgorithm,
  type JwsAlgorithm,
  jwsAlgorithms,
  splitCompactJws,
} from '@gatehouse/jose-rules';
import { invalidToken } from './errors.ts';

export { verifySignature, verifySignatureAsync } from '@gatehouse/jose-rules';

/** The asymmetric JWS algorithms (RFC 7518 §3, RFC 8037 §3.1) this library can verify. */
export type { JwsAlgorithm };

export const supportedAlgorithms: readonly JwsAlgorithm[] = jwsAlgorithms;

export const isSupportedAlgorithm = isJwsAlgorithm;

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
  const spec = algorithmSpecs[alg];
  if (key.alg !== undefined && key.alg !== alg) return false;
  if (key.kty !== spec.kty) return false;
  return spec.crv === undefined || key.crv === spec.crv;
}

export interface ParsedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

/** Splits and decodes a compact JWS with a JSON object payload; throws `invalid_token` if malformed. */
export function parseCompactJws(token: string): ParsedJws {
  const segments = splitCompactJws(token);
  if (segments === undefined) throw invalidToken('malformed_token', 'the token is not a compact JWS');
  const header = decodeJsonObject(segments.header);
  const payload = decodeJsonObject(segments.payload);
  const signature = decodeBase64Url(segments.signature);
  if (header === undefined || payload === undefined || signature === undefined) {
    throw invalidToken('malformed_token', 'the token is not a well-formed JWS');
  }
  return { header, payload, signingInput: Buffer.from(segments.signingInput, 'latin1'), signature };
}

/** RFC 7515 §4.1.9: `typ` compares case-insensitively and may omit the `application/` prefix. */
export function normalizeMediaType(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
