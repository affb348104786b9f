/** Signing keys, published until they expire. */
import type { SigningKeyRecord } from '../../model.ts';
import type { SigningKeyRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { signingKeyRows } from './rows.ts';
import { updateAll } from './statements.ts';

export class SqlSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly db: Db) {}

  /** Keys still published (not past their expiry), oldest first. */
  async listPublished(now: number): Promise<SigningKeyRecord[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('not_before')
      .orderBy('created_at')
      .execute();
    return rows.map(signingKeyRows.fromRow);
  }

  async create(key: SigningKeyRecord): Promise<void> {
    await this.db.insertInto('signing_keys').values(signingKeyRows.toRow(key)).execute();
  }

  /** Every stored key, published or not (for sealing them all when at-rest encryption changes). */
  async listAll(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().execute();
    return rows.map(signingKeyRows.fromRow);
  }

  /** Replaces the stored private half of a key (sealed again with another secret, keys/key-encryption.ts). */
  async replacePrivateJwk(kid: string, privateJwk: string): Promise<void> {
    await updateAll(this.db, 'signing_keys', { private_jwk: privateJwk }, { kid });
  }

  /** Retires every key that is still signing (or scheduled to) other than `keepKid`. */
  async retireOthers(keepKid: string, retiredAt: number, expiresAt: number): Promise<void> {
    await this.db
      .updateTable('signing_keys')
      .set({ retired_at: retiredAt, expires_at: expiresAt })
      .where('kid', '!=', keepKid)
      .where('retired_at', 'is', null)
      .execute();
  }
}
