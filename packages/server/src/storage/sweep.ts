/**
 * Deletes expired rows on a timer, never on the request path. Used codes are kept an hour past expiry and
 * rotated refresh tokens until their family expires, so replays inside those windows are still detected
 * as reuse rather than answered as unknown (a refresh token's row stays until its family's absolute expiry,
 * even when it expired earlier for being idle). Signing keys are deleted once they are no longer published
 * (every token they signed has expired): their private half has no use left and is only a liability.
 * Known browsers are forgotten after `login.knownBrowserTtl`; upstream sign-ins never answered, upstream
 * links never proven and WebAuthn challenges never used at their expiry. On SQLite the freed pages are then
 * handed
 * back (incremental vacuum); PostgreSQL's autovacuum makes their space reusable.
 */
import { databaseOf, reclaimSpace } from './internal.ts';
import type { Storage } from './ports.ts';

/** Seconds a row of each table is kept past its expiry. */
const keptPastExpiry = {
  authorization_codes: 3600,
  interactions: 0,
  sessions: 0,
  device_codes: 3600,
  backchannel_requests: 3600,
  access_tokens: 0,
  revoked_tokens: 0,
  pushed_authorization_requests: 0,
  known_browsers: 0,
  upstream_logins: 0,
  upstream_pending_links: 0,
  upstream_sessions: 0,
  webauthn_challenges: 0,
} as const;

export async function sweepExpired(storage: Storage, now: number): Promise<number> {
  const db = databaseOf(storage);
  const tables = Object.keys(keptPastExpiry) as (keyof typeof keptPastExpiry)[];
  const results = await Promise.all([
    ...tables.map((table) =>
      db
        .deleteFrom(table)
        .where('expires_at', '<', now - keptPastExpiry[table])
        .executeTakeFirst(),
    ),
    // A refresh token's own expiry may be an idle one; its row is kept until the family ends.
    db.deleteFrom('refresh_tokens').where('absolute_expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('signing_keys').where('expires_at', '<=', now).executeTakeFirst(),
  ]);
  await reclaimSpace(storage);
  return results.reduce((total, result) => total + Number(result.numDeletedRows), 0);
}
