/** Local accounts, by id or username. */
import { sql } from 'kysely';
import type { User } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { UserRepository } from '../ports.ts';
import { affected, type Db, inTransaction } from './db.ts';
import { userFromRow, userToRow } from './rows.ts';

const findUserById = compiled((db, p: { id: string }) =>
  db.selectFrom('users').selectAll().where('id', '=', p.id),
);

const findUserByUsername = compiled((db, p: { username: string }) =>
  db.selectFrom('users').selectAll().where('username', '=', p.username),
);

/** PostgreSQL text cannot hold NUL (it fails the query): a value with one names no user, on either database. */
const nul = '\u0000';

export class SqlUserRepository implements UserRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<User | undefined> {
    if (id.includes(nul)) return undefined;
    const [row] = (await findUserById(this.db, { id })).rows;
    return row && userFromRow(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    if (username.includes(nul)) return undefined;
    const [row] = (await findUserByUsername(this.db, { username })).rows;
    return row && userFromRow(row);
  }

  /**
   * Users whose `email` claim is `email`, ASCII case aside. The claims are JSON text on both databases: a
   * LIKE on the encoded member narrows the rows (a scan: e-mail lookups are rare, at a first upstream
   * sign-in), and the parsed claim decides.
   */
  async findByEmail(email: string, limit: number): Promise<User[]> {
    const wanted = email.toLowerCase();
    if (wanted === '' || wanted.includes(nul)) return [];
    const pattern = `%"email":${JSON.stringify(wanted).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .where(sql<boolean>`lower(${sql.ref('claims')}) like ${pattern} escape '\\'`)
      .orderBy('id')
      .limit(limit * 4)
      .execute();
    return rows
      .map(userFromRow)
      .filter((user) => typeof user.claims.email === 'string' && user.claims.email.toLowerCase() === wanted)
      .slice(0, limit);
  }

  /** Creates a user; returns false when the username is taken. */
  async create(user: User, now: number): Promise<boolean> {
    const result = await this.db
      .insertInto('users')
      .values(userToRow(user, now))
      .onConflict((conflict) => conflict.column('username').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(userFromRow);
  }

  /** Disables the account from `at`, or enables it with null; false when there is no such user. */
  async setDisabled(id: string, at: number | null, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({ disabled_at: at, updated_at: now })
      .where('id', '=', id)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  /** Deletes the user, its consents, known browsers and upstream links in one transaction; false when there is none. */
  remove(id: string): Promise<boolean> {
    return inTransaction(this.db, async (db) => {
      await db.deleteFrom('consents').where('user_id', '=', id).execute();
      await db.deleteFrom('known_browsers').where('user_id', '=', id).execute();
      await db.deleteFrom('upstream_identities').where('user_id', '=', id).execute();
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return affected(result) === 1;
    });
  }

  /** Replaces the password hash (an operator's reset); false when there is no such user. */
  async setPasswordHash(id: string, passwordHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({ password_hash: passwordHash, updated_at: now })
      .where('id', '=', id)
      .executeTakeFirst();
    return affected(result) === 1;
  }
}
