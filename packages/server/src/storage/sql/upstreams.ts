/**
 * Upstream identities (which local account an upstream provider's `sub` is) and the upstream sign-ins in
 * flight, found by the SHA-256 of their `state` and taken by one DELETE ... RETURNING, so a replayed
 * callback finds nothing (sessions/upstream.ts); links waiting for the user's proof, one per interaction,
 * taken the same way (sessions/upstream-link.ts).
 */
import type { PendingUpstreamLink, UpstreamLogin, UpstreamRepository, UpstreamUsage } from '../ports.ts';
import type { Database } from '../schema.ts';
import { integer, list, rowMapping, text } from './columns.ts';
import { type Db, hasNul } from './db.ts';
import {
  changedOne,
  first,
  insertUnlessTaken,
  selectUnexpired,
  singleUse,
  takeUnexpired,
  upsert,
} from './statements.ts';

const loginRows = rowMapping<UpstreamLogin, Database['upstream_logins']>()({
  stateHash: text('state_hash'),
  upstreamId: text('upstream_id'),
  interactionId: text('interaction_id'),
  nonce: text('nonce'),
  codeVerifier: text('code_verifier'),
  redirectUri: text('redirect_uri'),
  expiresAt: integer('expires_at'),
});
const logins = singleUse('upstream_logins', 'state_hash', loginRows);

/** The columns of the upstream identity a pending link and an upstream session are about. */
export const upstreamSubjectColumns = {
  upstreamId: text('upstream_id'),
  upstreamSubject: text('upstream_subject'),
  upstreamSid: text('upstream_sid'),
};

const pendingLinkRows = rowMapping<PendingUpstreamLink, Database['upstream_pending_links']>()({
  interactionId: text('interaction_id'),
  ...upstreamSubjectColumns,
  upstreamAmr: list('upstream_amr'),
  upstreamAcr: text('upstream_acr'),
  offeredUserId: text('offered_user_id'),
  provenUserId: text('proven_user_id'),
  expiresAt: integer('expires_at'),
});

export class SqlUpstreamRepository implements UpstreamRepository {
  constructor(private readonly db: Db) {}

  createLogin(login: UpstreamLogin, now: number): Promise<void> {
    return logins.create(this.db, login, now);
  }

  takeLogin(stateHash: string, now: number): Promise<UpstreamLogin | undefined> {
    return logins.take(this.db, stateHash, now);
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
    const row = { ...pendingLinkRows.toRow(link), created_at: now };
    await upsert(this.db, 'upstream_pending_links', 'interaction_id', row);
  }

  async findPendingLink(interactionId: string, now: number): Promise<PendingUpstreamLink | undefined> {
    if (hasNul(interactionId)) return undefined;
    const link = selectUnexpired(this.db, 'upstream_pending_links', 'interaction_id', interactionId, now);
    return first(link, pendingLinkRows.fromRow);
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
      pendingLinkRows.fromRow,
    );
  }

  async usageByUpstream(now: number): Promise<Map<string, UpstreamUsage>> {
    const [identities, sessions] = await Promise.all([
      this.db
        .selectFrom('upstream_identities')
        .select((eb) => ['upstream_id', eb.fn.countAll<number>().as('count')])
        .groupBy('upstream_id')
        .execute(),
      this.db
        .selectFrom('upstream_sessions')
        .select((eb) => ['upstream_id', eb.fn.countAll<number>().as('count')])
        .where('expires_at', '>', now)
        .groupBy('upstream_id')
        .execute(),
    ]);
    const usage = new Map<string, UpstreamUsage>();
    const of = (upstreamId: string): UpstreamUsage => {
      const entry = usage.get(upstreamId) ?? { linkedIdentities: 0, sessions: 0 };
      usage.set(upstreamId, entry);
      return entry;
    };
    for (const row of identities) of(row.upstream_id).linkedIdentities = Number(row.count);
    for (const row of sessions) of(row.upstream_id).sessions = Number(row.count);
    return usage;
  }
}
