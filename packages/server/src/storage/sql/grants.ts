/** Grants: revoking one marks its codes and refresh tokens consumed in the same transaction. */
import type { Grant } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { GrantRepository, PageRequest } from '../ports.ts';
import type { Database } from '../schema.ts';
import { affected, type ChangeListener, type Db, inTransaction } from './db.ts';
import { grantRows } from './rows.ts';
import { compiledFindBy, selectBy } from './statements.ts';

const insertGrant = compiled((db, row: Database['grants']) => db.insertInto('grants').values(row));
const findGrant = compiledFindBy('grants', 'id');

export class SqlGrantRepository implements GrantRepository {
  /** `changed` is called after revocations, so the in-memory revocation view reloads. */
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener,
  ) {}

  async create(grant: Grant): Promise<void> {
    await insertGrant(this.db, grantRows.toRow(grant));
  }

  async find(id: string): Promise<Grant | undefined> {
    const [row] = (await findGrant(this.db, { key: id })).rows;
    return row && grantRows.fromRow(row);
  }

  /** Every grant made in one login session (revoked ones included), oldest first. */
  async listBySid(sid: string): Promise<Grant[]> {
    const rows = await selectBy(this.db, 'grants', 'sid', sid).orderBy('created_at').execute();
    return rows.map(grantRows.fromRow);
  }

  /** Grants not revoked (of one user and/or one client, when given), by id, a page at a time. */
  async listActive(
    filter: { userId?: string | undefined; clientId?: string | undefined },
    page: PageRequest,
  ): Promise<Grant[]> {
    let query = this.db.selectFrom('grants').selectAll().where('revoked_at', 'is', null);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
    if (page.after !== undefined) query = query.where('id', '>', page.after);
    const rows = await query.orderBy('id').limit(page.limit).execute();
    return rows.map(grantRows.fromRow);
  }

  /**
   * Revokes a grant and everything issued from it: unredeemed codes and live refresh tokens are marked
   * consumed in the same transaction, so no member of the family can be used afterwards. True only for the
   * caller that revoked it.
   */
  async revoke(id: string, now: number): Promise<boolean> {
    return (await this.revokeWhere('id', 'grant_id', id, now)) === 1;
  }

  /**
   * Revokes every grant of a client (and what was issued from them), for when the client is removed: a
   * client registered again later under the same id must not inherit its predecessor's tokens.
   */
  async revokeAllForClient(clientId: string, now: number): Promise<void> {
    await this.revokeWhere('client_id', 'client_id', clientId, now);
  }

  /**
   * Revokes every grant of a user (and what was issued from them), for a removed account or an operator
   * who wants a disabled account's refresh tokens gone for good.
   */
  async revokeAllForUser(userId: string, now: number): Promise<void> {
    await this.revokeWhere('user_id', 'user_id', userId, now);
  }

  /**
   * Revokes the grants whose `grantColumn` is `value`, and the codes and refresh tokens issued from them;
   * returns how many grants this call revoked.
   */
  private revokeWhere(
    grantColumn: 'id' | 'client_id' | 'user_id',
    handleColumn: 'grant_id' | 'client_id' | 'user_id',
    value: string,
    now: number,
  ): Promise<number> {
    return inTransaction(this.db, async (db) => {
      const revoked = await db
        .updateTable('grants')
        .set({ revoked_at: now })
        .where(grantColumn, '=', value)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      for (const table of ['refresh_tokens', 'authorization_codes'] as const) {
        await db
          .updateTable(table)
          .set({ consumed_at: now })
          .where(handleColumn, '=', value)
          .where('consumed_at', 'is', null)
          .execute();
      }
      // Only a newly revoked grant changes what caches hold. Requests that find the family already dead
      // (every loser of a reuse race) then take no lock on the change counter and do not queue behind it.
      if (affected(revoked) > 0) await this.changed(db);
      return affected(revoked);
    });
  }
}
