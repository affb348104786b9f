/**
 * Random handles and their storage form. Codes, refresh tokens, client secrets and session ids are 256-bit
 * random values (RFC 6749 §10.10, RFC 9700 §4.14); only their SHA-256 hash is stored, so a database
 * leak yields nothing usable. A fast hash is safe here because the inputs carry 256 bits of entropy.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, base64url: 43 characters, 256 bits. */
export function randomHandle(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** True when `value` has the shape of a `randomHandle()` (43 base64url characters): cheap to check first. */
export function isHandle(value: string): boolean {
  return handlePattern.test(value);
}

const handlePattern = /^[A-Za-z0-9_-]{43}$/;

export function sha256Base64Url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Constant-time comparison of two strings (length difference leaks only the length). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}
