/**
 * Upstream identities (which local account an upstream provider's `sub` is) and the upstream sign-ins in
 * flight, found by the SHA-256 of their `state` and taken by one DELETE ... RETURNING, so a replayed
 * callback finds nothing (sessions/upstream.ts); links waiting for the user's proof, one per interaction,
 * taken the same way (sessions/upstream-link.ts).
 */
import type { PendingUpstreamLink, UpstreamLogin, UpstreamRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import { affected, type Db, json, parseList } from './db.ts';

function pendingLinkFromRow(row: Database['upstream_pending_links']): PendingUpstreamLink {
  return {
    interactionId: row.interaction_id,
    upstreamId: row.upstream_id,
    upstreamSubject: row.upstream_subject,
    upstreamSid: row.upstream_sid,
    upstreamAmr: parseList(row.upstream_amr),
    upstreamAcr: row.upstream_acr,
    offeredUserId: row.offered_user_id,
    provenUserId: row.proven_user_id,
    expiresAt: Number(row.expires_at),
  };
}

/** PostgreSQL text cannot hold NUL (it fails the query): a value with one names nothing, on either database. */
export const hasNul = (...values: string[]) => values.some((value) => value.includes('\u0000'));

export class SqlUpstreamRepository implements UpstreamRepository {
  constructor(private readonly db: Db) {}

  async createLogin(login: UpstreamLogin, now: number): Promise<void> {
    await this.db
      .insertInto('upstream_logins')
      .values({
        state_hash: login.stateHash,
        upstream_id: login.upstreamId,
        interaction_id: login.interactionId,
        nonce: login.nonce,
        code_verifier: login.codeVerifier,
        redirect_uri: login.redirectUri,
        expires_at: login.expiresAt,
        created_at: now,
      })
      .execute();
  }

  async takeLogin(stateHash: string, now: number): Promise<UpstreamLogin | undefined> {
    if (hasNul(stateHash)) return undefined;
    const row = await this.db
      .deleteFrom('upstream_logins')
      .where('state_hash', '=', stateHash)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined || Number(row.expires_at) <= now) return undefined;
    return {
      stateHash: row.state_hash,
      upstreamId: row.upstream_id,
      interactionId: row.interaction_id,
      nonce: row.nonce,
      codeVerifier: row.code_verifier,
      redirectUri: row.redirect_uri,
      expiresAt: Number(row.expires_at),
    };
  }

  async findLinkedUser(upstreamId: string, upstreamSubject: string): Promise<string | undefined> {
    if (hasNul(upstreamId, upstreamSubject)) return undefined;
    const row = await this.db
      .selectFrom('upstream_identities')
      .select('user_id')
      .where('upstream_id', '=', upstreamId)
      .where('upstream_subject', '=', upstreamSubject)
      .executeTakeFirst();
    return row?.user_id;
  }

  async link(upstreamId: string, upstreamSubject: string, userId: string, now: number): Promise<boolean> {
    if (hasNul(upstreamId, upstreamSubject, userId)) return false;
    const result = await this.db
      .insertInto('upstream_identities')
      .values({
        upstream_id: upstreamId,
        upstream_subject: upstreamSubject,
        user_id: userId,
        created_at: now,
      })
      .onConflict((conflict) => conflict.columns(['upstream_id', 'upstream_subject']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async savePendingLink(link: PendingUpstreamLink, now: number): Promise<void> {
    const row = {
      interaction_id: link.interactionId,
      upstream_id: link.upstreamId,
      upstream_subject: link.upstreamSubject,
      upstream_sid: link.upstreamSid,
      upstream_amr: json(link.upstreamAmr),
      upstream_acr: link.upstreamAcr,
      offered_user_id: link.offeredUserId,
      proven_user_id: link.provenUserId,
      expires_at: link.expiresAt,
      created_at: now,
    };
    const { interaction_id: _key, ...replacement } = row;
    await this.db
      .insertInto('upstream_pending_links')
      .values(row)
      .onConflict((conflict) => conflict.column('interaction_id').doUpdateSet(replacement))
      .execute();
  }

  async findPendingLink(interactionId: string, now: number): Promise<PendingUpstreamLink | undefined> {
    if (hasNul(interactionId)) return undefined;
    const row = await this.db
      .selectFrom('upstream_pending_links')
      .selectAll()
      .where('interaction_id', '=', interactionId)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row && pendingLinkFromRow(row);
  }

  async provePendingLink(interactionId: string, userId: string, now: number): Promise<boolean> {
    if (hasNul(interactionId, userId)) return false;
    const result = await this.db
      .updateTable('upstream_pending_links')
      .set({ proven_user_id: userId })
      .where('interaction_id', '=', interactionId)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  async takePendingLink(interactionId: string, now: number): Promise<PendingUpstreamLink | undefined> {
    if (hasNul(interactionId)) return undefined;
    const row = await this.db
      .deleteFrom('upstream_pending_links')
      .where('interaction_id', '=', interactionId)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined || Number(row.expires_at) <= now) return undefined;
    return pendingLinkFromRow(row);
  }
}
