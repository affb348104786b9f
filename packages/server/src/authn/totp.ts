/**
 * Time-based one-time passwords (RFC 6238) over HOTP (RFC 4226): HMAC-SHA1, 30-second steps from the Unix
 * epoch (§4), six digits, and a window of one step either side for clock drift (§5.2). Which step was used
 * is returned, so the caller can refuse a code of a step already used (§5.2: a verifier must not accept
 * the second attempt of the same OTP). Secrets are 160 random bits (RFC 4226 §4 recommends 160), written in
 * base32 (RFC 4648 §6) as authenticator apps read them from an `otpauth://` URI.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const totpPeriod = 30;
export const totpDigits = 6;
/** Steps accepted either side of the current one (RFC 6238 §5.2). */
export const totpWindow = 1;

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let output = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      output += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) output += alphabet[(value << (5 - bits)) & 31];
  return output;
}

export function base32Decode(text: string): Buffer {
  let bits = 0;
  let value = 0;
  const output: number[] = [];
  for (const character of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(character);
    if (index < 0) throw new Error('not base32');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      output.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(output);
}

/** A new shared secret, base32. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(20));
}

/** RFC 4226 §5.3: the HOTP value of `counter`, with dynamic truncation, as `digits` decimal digits. */
export function hotp(secret: string, counter: number, digits = totpDigits): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const hmac = createHmac('sha1', base32Decode(secret)).update(message).digest();
  const offset = hmac[hmac.length - 1]! & 0x0f;
  const binary = hmac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** RFC 6238 §4.2: the time step of Unix time `now` (seconds). */
export function totpStep(now: number): number {
  return Math.floor(now / totpPeriod);
}

/** The code of the step `now` falls in. */
export function totpCode(secret: string, now: number): string {
  return hotp(secret, totpStep(now));
}

/**
 * The time step whose code `code` is, within the window around `now`; undefined when it matches none.
 * Codes are compared in constant time; a value that is not six digits matches nothing.
 */
export function matchTotp(secret: string, code: string, now: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const current = totpStep(now);
  let matched: number | undefined;
  for (let step = current - totpWindow; step <= current + totpWindow; step += 1) {
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(code)) && matched === undefined)
      matched = step;
  }
  return matched;
}

/**
 * The `otpauth://totp/` URI authenticator apps read from a QR code (the Key Uri Format that Google
 * Authenticator defined and other apps follow): label `issuer:account`, the secret and the parameters.
 */
export function otpauthUri(issuer: string, account: string, secret: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({
    secret,
    issuer,
    algorithm: 'SHA1',
    digits: String(totpDigits),
    period: String(totpPeriod),
  });
  return `otpauth://totp/${label}?${query.toString()}`;
}
