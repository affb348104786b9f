/**
 * Upstream identities (which local account an upstream provider's `sub` is) and the upstream sign-ins in
 * flight, found by the SHA-256 of their `state` and taken by one DELETE ... RETURNING, so a replayed
 * callback finds nothing (sessions/upstream.ts).
 */
import type { UpstreamLogin, UpstreamRepository } from '../ports.ts';
import type { Db } from './db.ts';

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
}
