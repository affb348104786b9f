/**
 * Random handles and their storage form. Codes, refresh tokens, client secrets and session ids are 256-bit
 * random values (RFC 6749 §10.10, RFC 9700 §4.14); only their SHA-256 hash is stored, so a database
 * leak yields nothing usable. A fast hash is safe here because the inputs carry 256 bits of entropy.
 */
import { createHash, randomFillSync } from 'node:crypto';

/**
 * Handles are cut from a 4 KiB buffer filled by the CSPRNG (randomFillSync, the source of randomBytes), so
 * one call into OpenSSL serves many handles. Every byte is handed out at most once: the offset only moves
 * forward, the buffer is refilled as a whole before reuse, and bytes are zeroed as they are handed out.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** 32 random bytes, base64url: 43 characters, 256 bits. */
export function randomHandle(bytes = 32): string {
  if (poolOffset + bytes > pool.length) {
    if (bytes > pool.length) throw new RangeError(`randomHandle draws at most ${pool.length} bytes`);
    randomFillSync(pool);
    poolOffset = 0;
  }
  const end = poolOffset + bytes;
  const handle = pool.toString('base64url', poolOffset, end);
  pool.fill(0, poolOffset, end);
  poolOffset = end;
  return handle;
}

/** True when `value` has the shape of a `randomHandle()` (43 base64url characters): cheap to check first. */
export function isHandle(value: string): boolean {
  return handlePattern.test(value);
}

const handlePattern = /^[A-Za-z0-9_-]{43}$/;

export function sha256Base64Url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
