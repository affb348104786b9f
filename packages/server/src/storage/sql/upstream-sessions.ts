/**
 * Local sessions started by an upstream sign-in, with the upstream `sub` and `sid` that the upstream's
 * back-channel logout tokens name (OpenID Connect Back-Channel Logout 1.0 §2.6) and its ID token for
 * RP-initiated logout there (sessions/upstream-logout.ts). One row per local sid.
 */
import type { UpstreamSession, UpstreamSessionRepository } from '../ports.ts';
import type { UpstreamSessionsTable } from '../schema.ts';
import { integer, rowMapping, text } from './columns.ts';
import { type Db, hasNul } from './db.ts';
import { first, selectUnexpired, upsert } from './statements.ts';
import { upstreamSubjectColumns } from './upstreams.ts';

const upstreamSessionRows = rowMapping<UpstreamSession, UpstreamSessionsTable>()({
  sid: text('sid'),
  ...upstreamSubjectColumns,
  idToken: text('id_token'),
  expiresAt: integer('expires_at'),
});

export class SqlUpstreamSessionRepository implements UpstreamSessionRepository {
  constructor(private readonly db: Db) {}

  async record(session: UpstreamSession, now: number): Promise<void> {
    const row = { ...upstreamSessionRows.toRow(session), created_at: now };
    await upsert(this.db, 'upstream_sessions', 'sid', row);
  }

  async find(sid: string, now: number): Promise<UpstreamSession | undefined> {
    if (hasNul(sid)) return undefined;
    return first(selectUnexpired(this.db, 'upstream_sessions', 'sid', sid, now), upstreamSessionRows.fromRow);
  }

  async findSids(
    upstreamId: string,
    names: { sub: string | undefined; sid: string | undefined },
    now: number,
  ): Promise<string[]> {
    const { sub, sid } = names;
    if (sub === undefined && sid === undefined) return [];
    if (hasNul(upstreamId, sub ?? '', sid ?? '')) return [];
    let query = this.db
      .selectFrom('upstream_sessions')
      .select('sid')
      .where('upstream_id', '=', upstreamId)
      .where('expires_at', '>', now);
    if (sub !== undefined) query = query.where('upstream_subject', '=', sub);
    if (sid !== undefined) query = query.where('upstream_sid', '=', sid);
    return (await query.orderBy('sid').limit(1000).execute()).map((row) => row.sid);
  }
}
