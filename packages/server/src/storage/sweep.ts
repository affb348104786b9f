/**
 * Deletes expired rows on a timer, never on the request path. Used codes are kept an hour past expiry and
 * rotated refresh tokens until their family expires, so replays inside those windows are still detected
 * as reuse rather than answered as unknown. Signing keys are deleted once they are no longer published
 * (every token they signed has expired): their private half has no use left and is only a liability.
 * Known browsers are forgotten after `login.knownBrowserTtl`. On SQLite the freed pages are then handed
 * back (incremental vacuum); PostgreSQL's autovacuum makes their space reusable.
 */
import { databaseOf, reclaimSpace } from './internal.ts';
import type { Storage } from './ports.ts';

export async function sweepExpired(storage: Storage, now: number): Promise<number> {
  const db = databaseOf(storage);
  const results = await Promise.all([
    db
      .deleteFrom('authorization_codes')
      .where('expires_at', '<', now - 3600)
      .executeTakeFirst(),
    db.deleteFrom('refresh_tokens').where('expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('interactions').where('expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('sessions').where('expires_at', '<', now).executeTakeFirst(),
    db
      .deleteFrom('device_codes')
      .where('expires_at', '<', now - 3600)
      .executeTakeFirst(),
    db.deleteFrom('access_tokens').where('expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('revoked_tokens').where('expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('pushed_authorization_requests').where('expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('signing_keys').where('expires_at', '<=', now).executeTakeFirst(),
    db.deleteFrom('known_browsers').where('expires_at', '<', now).executeTakeFirst(),
  ]);
  await reclaimSpace(storage);
  return results.reduce((total, result) => total + Number(result.numDeletedRows), 0);
}
