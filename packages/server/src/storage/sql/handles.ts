/**
 * The columns authorization codes and refresh tokens share (everything an issued handle carries about its
 * authorization), and the grant check both take them with.
 */
import { sql } from 'kysely';
import type { IssuedHandle } from '../../model.ts';
import type { Database } from '../schema.ts';
import { json, parseList } from './db.ts';

export function handleFromRow(
  row: Database['refresh_tokens'] | Database['authorization_codes'],
): IssuedHandle {
  return {
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: parseList(row.scope),
    resources: parseList(row.resources),
    authTime: Number(row.auth_time),
    amr: parseList(row.amr),
    sid: row.sid,
    expiresAt: Number(row.expires_at),
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
    createdAt: Number(row.created_at),
    dpopJkt: row.dpop_jkt,
  };
}

export function handleToRow(handle: IssuedHandle) {
  return {
    grant_id: handle.grantId,
    client_id: handle.clientId,
    user_id: handle.userId,
    scope: json(handle.scope),
    resources: json(handle.resources),
    auth_time: handle.authTime,
    amr: json(handle.amr),
    sid: handle.sid,
    expires_at: handle.expiresAt,
    consumed_at: handle.consumedAt,
    created_at: handle.createdAt,
    dpop_jkt: handle.dpopJkt,
  };
}

/**
 * A code or refresh token can be redeemed when it is presented by its own client, is not used yet, has not
 * expired, and its grant is not revoked. All four are checked inside the one statement that takes it (a row
 * read before could have gone stale by then; inside the statement it cannot); this is the last of them.
 */
export function grantIsLive(table: 'authorization_codes' | 'refresh_tokens') {
  return sql<boolean>`exists (select 1 from grants where grants.id = ${sql.ref(`${table}.grant_id`)} and grants.revoked_at is null)`;
}
