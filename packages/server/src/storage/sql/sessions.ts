/** Browser login sessions, found by the hash of the cookie value. */
import type { LoginSession, UpstreamAuthentication } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { PageRequest, SessionRepository } from '../ports.ts';
import { type Db, json, jsonOrNull } from './db.ts';
import { sessionRows } from './rows.ts';
import { changedOne, updateAll, updateOne } from './statements.ts';

/** The live (not ended, not expired) session whose `column` is `value`, compiled once (compiled.ts). */
const findLiveSession = (column: 'id_hash' | 'sid') =>
  compiled((db, p: { value: string; now: number }) =>
    db
      .selectFrom('sessions')
      .selectAll()
      .where(column, '=', p.value)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', p.now),
  );
const findActiveSession = findLiveSession('id_hash');
const findLiveSessionBySid = findLiveSession('sid');

export class SqlSessionRepository implements SessionRepository {
  constructor(private readonly db: Db) {}

  async create(idHash: string, session: LoginSession, now: number): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ ...sessionRows.toRow(session), id_hash: idHash, created_at: now, ended_at: null })
      .execute();
  }

  /** The live session for a cookie value's hash, or undefined when unknown, ended or expired. */
  async findActive(idHash: string, now: number): Promise<LoginSession | undefined> {
    const [row] = (await findActiveSession(this.db, { value: idHash, now })).rows;
    return row && sessionRows.fromRow(row);
  }

  async end(idHash: string, now: number): Promise<void> {
    await updateAll(this.db, 'sessions', { ended_at: now }, { id_hash: idHash, ended_at: null });
  }

  /** Ends the session with this sid; true only for the one caller that ended it (a logout runs once). */
  endBySid(sid: string, now: number): Promise<boolean> {
    return updateOne(this.db, 'sessions', { ended_at: now }, { sid, ended_at: null });
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
    const changes = {
      id_hash: newIdHash,
      auth_time: session.authTime,
      amr: json(session.amr),
      expires_at: session.expiresAt,
      ...(session.upstream === undefined ? {} : { upstream: jsonOrNull(session.upstream) }),
    };
    return changedOne(
      this.db
        .updateTable('sessions')
        .set(changes)
        .where('id_hash', '=', idHash)
        .where('ended_at', 'is', null)
        .where('expires_at', '>', now),
    );
  }

  /** Ends every live session of a user (a disabled or removed account); returns how many were live. */
  endAllForUser(userId: string, now: number): Promise<number> {
    return updateAll(this.db, 'sessions', { ended_at: now }, { user_id: userId, ended_at: null });
  }

  /** The live session with this sid, or undefined when unknown, ended or expired. */
  async findLiveBySid(sid: string, now: number): Promise<LoginSession | undefined> {
    const [row] = (await findLiveSessionBySid(this.db, { value: sid, now })).rows;
    return row && sessionRows.fromRow(row);
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
    return rows.map(sessionRows.fromRow);
  }
}
