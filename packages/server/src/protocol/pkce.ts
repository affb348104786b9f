/**
 * PKCE (RFC 7636) with S256 only, as OAuth 2.1 §4.1.1 and RFC 9700 §2.1.1 recommend: `plain` offers no
 * protection when the authorization request leaks, so it is refused.
 */
import { constantTimeEqual } from '@gatehouse/jose-rules';
import { OAuthError } from './errors.ts';
import { sha256Base64Url } from './secrets.ts';

/** RFC 7636 §4.1: 43 to 128 characters from the unreserved set. */
const verifierPattern = /^[A-Za-z0-9._~-]{43,128}$/;
/** BASE64URL(SHA256(verifier)) is always 43 characters without padding. */
const s256ChallengePattern = /^[A-Za-z0-9_-]{43}$/;

export function validateCodeChallenge(challenge: string | undefined, method: string | undefined): string {
  if (challenge === undefined)
    throw new OAuthError('invalid_request', 'code_challenge is required (PKCE with S256)');
  if (method === undefined)
    throw new OAuthError('invalid_request', 'code_challenge_method is required and must be S256');
  if (method !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
  if (!s256ChallengePattern.test(challenge)) {
    throw new OAuthError('invalid_request', 'code_challenge must be 43 base64url characters (S256)');
  }
  return challenge;
}

export function validateCodeVerifier(verifier: string | undefined): string {
  if (verifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required');
  if (!verifierPattern.test(verifier)) {
    throw new OAuthError(
      'invalid_request',
      'code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~',
    );
  }
  return verifier;
}

export function verifierMatchesChallenge(verifier: string, challenge: string): boolean {
  return constantTimeEqual(sha256Base64Url(verifier), challenge);
}
