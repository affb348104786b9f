/** The grant check authorization codes and refresh tokens are both taken with. */
import { sql } from 'kysely';

/**
 * A code or refresh token can be redeemed when it is presented by its own client, is not used yet, has not
 * expired, and its grant is not revoked. All four are checked inside the one statement that takes it (a row
 * read before could have gone stale by then; inside the statement it cannot); this is the last of them.
 */
export function grantIsLive(table: 'authorization_codes' | 'refresh_tokens') {
  return sql<boolean>`exists (select 1 from grants where grants.id = ${sql.ref(`${table}.grant_id`)} and grants.revoked_at is null)`;
}
