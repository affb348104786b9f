/**
 * Revocation state of access tokens. A JWT cannot be recalled, so a revoked one is remembered by `jti`
 * until it expires; tokens of a revoked grant are refused through the grant.
 */
import type { RevocationRepository } from '../ports.ts';
import { type ChangeListener, type Db, inTransaction } from './db.ts';

export class SqlRevocationRepository implements RevocationRepository {
  /** `changed` is called after every write, so the in-memory revocation view (storage/index.ts) reloads. */
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener,
  ) {}

  async revokeJti(jti: string, expiresAt: number): Promise<void> {
    await inTransaction(this.db, async (db) => {
      const inserted = await db
        .insertInto('revoked_tokens')
        .values({ jti, expires_at: expiresAt })
        .onConflict((conflict) => conflict.column('jti').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) await this.changed(db);
    });
  }

  /**
   * Everything that can still make a live access token invalid: jtis revoked and not yet expired, and grants
   * revoked since `grantsSince` (an access token lives at most 15 minutes, so a grant revoked longer ago
   * than that has no live token issued before its revocation, and it issues none after).
   */
  async live(now: number, grantsSince: number): Promise<{ jtis: string[]; grantIds: string[] }> {
    const jtis = await this.db
      .selectFrom('revoked_tokens')
      .select('jti')
      .where('expires_at', '>', now)
      .execute();
    const grants = await this.db
      .selectFrom('grants')
      .select('id')
      .where('revoked_at', '>=', grantsSince)
      .execute();
    return { jtis: jtis.map((row) => row.jti), grantIds: grants.map((row) => row.id) };
  }
}
