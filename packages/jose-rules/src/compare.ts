/**
 * Constant-time comparison of secrets and values derived from them (client secrets, PKCE verifiers per
 * RFC 7636 §4.6, CSRF tokens, DPoP `ath` and nonces per RFC 9449 §4.3 and §9): the time taken does not
 * depend on where two equal-length strings first differ.
 */
import { timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of two strings (a length difference leaks only the length). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}
