/** Browser login sessions, found by the hash of the cookie value. */
import type { LoginSession, UpstreamAuthentication } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { PageRequest, SessionRepository } from '../ports.ts';
import { affected, type Db, json, jsonOrNull } from './db.ts';
import { sessionFromRow, sessionToRow } from './rows.ts';

const findActiveSession = compiled((db, p: { idHash: string; now: number }) =>
  db
    .selectFrom('sessions')
    .selectAll()
    .where('id_hash', '=', p.idHash)
    .where('ended_at', 'is', null)
    .where('expires_at', '>', p.now),
);

export class SqlSessionRepository implements SessionRepository {
  constructor(private readonly db: Db) {}

  async create(idHash: string, session: LoginSession, now: number): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values(sessionToRow(idHash, session, now))
      .execute();
  }

  /** The live session for a cookie value's hash, or undefined when unknown, ended or expired. */
  async findActive(idHash: string, now: number): Promise<LoginSession | undefined> {
    const [row] = (await findActiveSession(this.db, { idHash, now })).rows;
    return row && sessionFromRow(row);
  }

  async end(idHash: string, now: number): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ ended_at: now })
      .where('id_hash', '=', idHash)
      .where('ended_at', 'is', null)
      .execute();
  }

  /** Ends the session with this sid; true only for the one caller that ended it (a logout runs once). */
  async endBySid(sid: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({ ended_at: now })
      .where('sid', '=', sid)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  /**
   * Re-authentication of the same user: the live session keeps its sid (clients bound to it stay signed
   * in) but gets a new cookie id (no fixation), a new auth_time and a new expiry. False when it has ended.
   */
  async reauthenticate(
    idHash: string,
    newIdHash: string,
    session: Pick<LoginSession, 'authTime' | 'amr' | 'expiresAt'> & {
      upstream?: UpstreamAuthentication | null;
    },
    now: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({
        id_hash: newIdHash,
        auth_time: session.authTime,
        amr: json(session.amr),
        expires_at: session.expiresAt,
        ...(session.upstream === undefined ? {} : { upstream: jsonOrNull(session.upstream) }),
      })
      .where('id_hash', '=', idHash)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  /** Ends every live session of a user (a disabled or removed account); returns how many were live. */
  async endAllForUser(userId: string, now: number): Promise<number> {
    const result = await this.db
      .updateTable('sessions')
      .set({ ended_at: now })
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return affected(result);
  }

  /** The live session with this sid, or undefined when unknown, ended or expired. */
  async findLiveBySid(sid: string, now: number): Promise<LoginSession | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('sid', '=', sid)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row && sessionFromRow(row);
  }

  /** Live sessions (of one user, when given), by sid, a page at a time. */
  async listLive(
    filter: { userId?: string | undefined },
    now: number,
    page: PageRequest,
  ): Promise<LoginSession[]> {
    let query = this.db
      .selectFrom('sessions')
      .selectAll()
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (page.after !== undefined) query = query.where('sid', '>', page.after);
    const rows = await query.orderBy('sid').limit(page.limit).execute();
    return rows.map(sessionFromRow);
  }
}
