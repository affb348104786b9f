/** Browsers that signed in to an account, one row per browser (cookie hash) and user until it expires. */
import { compiled } from '../compiled.ts';
import type { KnownBrowserRepository } from '../ports.ts';
import type { Db } from './db.ts';

const findKnown = compiled((db, p: { browserHash: string; userId: string; now: number }) =>
  db
    .selectFrom('known_browsers')
    .select('user_id')
    .where('browser_hash', '=', p.browserHash)
    .where('user_id', '=', p.userId)
    .where('expires_at', '>', p.now),
);

export class SqlKnownBrowserRepository implements KnownBrowserRepository {
  constructor(private readonly db: Db) {}

  async remember(browserHash: string, userId: string, expiresAt: number, now: number): Promise<void> {
    await this.db
      .insertInto('known_browsers')
      .values({ browser_hash: browserHash, user_id: userId, expires_at: expiresAt, created_at: now })
      .onConflict((conflict) =>
        conflict.columns(['browser_hash', 'user_id']).doUpdateSet({ expires_at: expiresAt }),
      )
      .execute();
  }

  async isKnown(browserHash: string, userId: string, now: number): Promise<boolean> {
    return (await findKnown(this.db, { browserHash, userId, now })).rows.length > 0;
  }
}
