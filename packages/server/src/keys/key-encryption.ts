/**
 * Signing keys encrypted at rest, so a copy of the database does not hand out the signing keys.
 * Each secret of `keys.encryptionSecrets` (newest first, at least 32 characters) is stretched with
 * HKDF-SHA256 into an AES-256-GCM key; a sealed JWK is `gh-enc:v1:<secret id>:<iv>:<ciphertext and tag>`
 * with the kid as additional authenticated data, so a value moved to another key's row does not open.
 * At start-up every key not sealed with the first secret is sealed again; a key no secret opens stops the
 * start-up, so nothing is signed with a key that could not be opened.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

const prefix = 'gh-enc:v1:';

interface MasterKey {
  id: string;
  key: Buffer;
}

function deriveKey(secret: string): MasterKey {
  const key = Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'gatehouse/signing-keys/v1', 32));
  const id = createHash('sha256').update('gatehouse/key-id/').update(key).digest('base64url').slice(0, 11);
  return { id, key };
}

export class KeyEncryption {
  private readonly keys: MasterKey[];

  constructor(secrets: readonly string[] | undefined) {
    this.keys = (secrets ?? []).map(deriveKey);
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** True when `stored` is already sealed with the first (current) secret, or sealing is off and it is plain. */
  isCurrent(stored: string): boolean {
    const current = this.keys[0];
    if (current === undefined) return !stored.startsWith(prefix);
    return stored.startsWith(`${prefix}${current.id}:`);
  }

  /** Seals a private JWK for storage (unchanged when no secret is configured). */
  seal(kid: string, privateJwk: string): string {
    const current = this.keys[0];
    if (current === undefined) return privateJwk;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv);
    cipher.setAAD(Buffer.from(kid));
    const sealed = Buffer.concat([cipher.update(privateJwk, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${prefix}${current.id}:${iv.toString('base64url')}:${sealed.toString('base64url')}`;
  }

  /** The private JWK of a stored value, plain or sealed; throws naming the kid when it cannot be opened. */
  open(kid: string, stored: string): string {
    if (!stored.startsWith(prefix)) return stored;
    const [id, iv, sealed] = stored.slice(prefix.length).split(':');
    if (this.keys.length === 0)
      throw new Error(
        `signing key ${kid} is encrypted at rest; configure keys.encryptionSecrets with the secret that sealed it`,
      );
    const master = this.keys.find((candidate) => candidate.id === id);
    if (master === undefined || iv === undefined || sealed === undefined)
      throw new Error(
        `signing key ${kid} was sealed with a secret that keys.encryptionSecrets does not list`,
      );
    try {
      const data = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', master.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(kid));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new Error(
        `signing key ${kid} does not decrypt: the stored value was altered or is not this key's`,
      );
    }
  }
}
