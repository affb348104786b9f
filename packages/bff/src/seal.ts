/**
 * Encryption of session records at rest: AES-256-GCM (NIST SP 800-38D) with a key derived from the
 * configured secret by HKDF-SHA256 (RFC 5869), a fresh 96-bit IV per write, and the record's store key
 * as additional authenticated data, so a sealed record copied under another key does not open.
 * Tokens therefore never sit in plain text in SQLite, PostgreSQL or Redis, and a store dump without the
 * secret yields nothing.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export class Sealer {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (secret.length < 32) throw new TypeError('secret must be at least 32 characters');
    this.key = Buffer.from(hkdfSync('sha256', secret, 'gatehouse-bff', 'session records v1', 32));
  }

  seal(value: unknown, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The value, or undefined when the record was not sealed by this secret for this key. */
  open<T>(sealed: string, associatedData: string): T | undefined {
    try {
      const bytes = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(bytes.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
}
