/**
 * PKCE (RFC 7636 §4.1, §4.2) with S256 only (OAuth 2.1 §4.1.1), and the random `state` (RFC 6749 §10.12)
 * and `nonce` (OpenID Connect Core §3.1.2.1) values of an authorization request.
 */
import { createHash, randomBytes } from 'node:crypto';

/** A code verifier and its S256 challenge. */
export interface PkcePair {
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: 'S256';
}

/**
 * A code verifier of `length` characters (43 to 128, default 64) from the unreserved set. base64url
 * output uses only `A-Z a-z 0-9 - _`, a subset of RFC 7636's unreserved characters, 6 bits each.
 */
export function generateCodeVerifier(length = 64): string {
  if (!Number.isInteger(length) || length < 43 || length > 128) {
    throw new RangeError('a PKCE code verifier has 43 to 128 characters');
  }
  return randomBytes(Math.ceil((length * 3) / 4))
    .toString('base64url')
    .slice(0, length);
}

/** BASE64URL(SHA256(ASCII(code_verifier))), RFC 7636 §4.2. */
export function codeChallengeS256(codeVerifier: string): string {
  return createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
}

/** A fresh verifier and its S256 challenge. */
export function generatePkcePair(length?: number): PkcePair {
  const codeVerifier = generateCodeVerifier(length);
  return { codeVerifier, codeChallenge: codeChallengeS256(codeVerifier), codeChallengeMethod: 'S256' };
}

/** 256 random bits, base64url: for `state`, `nonce` and `jti`. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}
