/**
 * Upstream identities (which local account an upstream provider's `sub` is) and the upstream sign-ins in
 * flight, found by the SHA-256 of their `state` and taken by one DELETE ... RETURNING, so a replayed
 * callback finds nothing (sessions/upstream.ts); links waiting for the user's proof, one per interaction,
 * taken the same way (sessions/upstream-link.ts).
 */
import type { PendingUpstreamLink, UpstreamLogin, UpstreamRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import { type Db, hasNul, json, parseList } from './db.ts';
import {
  changedOne,
  first,
  insertUnlessTaken,
  selectUnexpired,
  takeUnexpired,
  upsert,
} from './statements.ts';

function loginFromRow(row: Database['upstream_logins']): UpstreamLogin {
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

  takeLogin(stateHash: string, now: number): Promise<UpstreamLogin | undefined> {
    return takeUnexpired(this.db, 'upstream_logins', 'state_hash', stateHash, now, loginFromRow);
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
    const row = {
      upstream_id: upstreamId,
      upstream_subject: upstreamSubject,
      user_id: userId,
      created_at: now,
    };
    return insertUnlessTaken(this.db, 'upstream_identities', row, ['upstream_id', 'upstream_subject']);
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
    await upsert(this.db, 'upstream_pending_links', 'interaction_id', row);
  }

  async findPendingLink(interactionId: string, now: number): Promise<PendingUpstreamLink | undefined> {
    if (hasNul(interactionId)) return undefined;
    const link = selectUnexpired(this.db, 'upstream_pending_links', 'interaction_id', interactionId, now);
    return first(link, pendingLinkFromRow);
  }

  async provePendingLink(interactionId: string, userId: string, now: number): Promise<boolean> {
    if (hasNul(interactionId, userId)) return false;
    return changedOne(
      this.db
        .updateTable('upstream_pending_links')
        .set({ proven_user_id: userId })
        .where('interaction_id', '=', interactionId)
        .where('expires_at', '>', now),
    );
  }

  takePendingLink(interactionId: string, now: number): Promise<PendingUpstreamLink | undefined> {
    return takeUnexpired(
      this.db,
      'upstream_pending_links',
      'interaction_id',
      interactionId,
      now,
      pendingLinkFromRow,
    );
  }
}
