/**
 * Recovery codes: ten one-time codes an account can use instead of its TOTP code when the authenticator is
 * lost. Each has 60 random bits, written as three groups of four base32 characters; only a SHA-256 hash
 * bound to the account is stored, so the codes are shown once, when generated. Entered codes are compared
 * without case, spaces or dashes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { base32Encode } from './totp.ts';

export const recoveryCodeCount = 10;

/** Ten new codes, as shown to the user. */
export function generateRecoveryCodes(): string[] {
  return Array.from({ length: recoveryCodeCount }, () => {
    const text = base32Encode(randomBytes(8)).slice(0, 12);
    return `${text.slice(0, 4)}-${text.slice(4, 8)}-${text.slice(8, 12)}`;
  });
}

/** The normalised form of an entered code: upper case, without spaces and dashes; undefined when no code. */
export function normaliseRecoveryCode(code: string): string | undefined {
  const text = code.replace(/[\s-]/g, '').toUpperCase();
  return /^[A-Z2-7]{12}$/.test(text) ? text : undefined;
}

/** The stored hash of a code of `userId`: SHA-256 over the account and the normalised code. */
export function recoveryCodeHash(userId: string, normalised: string): string {
  return createHash('sha256')
    .update(`gatehouse/recovery-code/${userId}\u0000${normalised}`)
    .digest('base64url');
}
