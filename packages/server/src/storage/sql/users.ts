/** Local accounts, by id or username. */
import { sql } from 'kysely';
import type { User } from '../../model.ts';
import type { UserRepository } from '../ports.ts';
import type { UsersTable } from '../schema.ts';
import { affected, type Db, hasNul, inTransaction } from './db.ts';
import { userRows } from './rows.ts';
import { compiledFindBy, insertUnlessTaken, updateOne } from './statements.ts';

const findUserById = compiledFindBy('users', 'id');
const findUserByUsername = compiledFindBy('users', 'username');

export class SqlUserRepository implements UserRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<User | undefined> {
    if (hasNul(id)) return undefined;
    const [row] = (await findUserById(this.db, { key: id })).rows;
    return row && userRows.fromRow(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    if (hasNul(username)) return undefined;
    const [row] = (await findUserByUsername(this.db, { key: username })).rows;
    return row && userRows.fromRow(row);
  }

  /**
   * Users whose `email` claim is `email`, ASCII case aside. The claims are JSON text on both databases: a
   * LIKE on the encoded member narrows the rows (a scan: e-mail lookups are rare, at a first upstream
   * sign-in), and the parsed claim decides.
   */
  async findByEmail(email: string, limit: number): Promise<User[]> {
    const wanted = email.toLowerCase();
    if (wanted === '' || hasNul(wanted)) return [];
    const pattern = `%"email":${JSON.stringify(wanted).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .where(sql<boolean>`lower(${sql.ref('claims')}) like ${pattern} escape '\\'`)
      .orderBy('id')
      .limit(limit * 4)
      .execute();
    return rows
      .map(userRows.fromRow)
      .filter((user) => typeof user.claims.email === 'string' && user.claims.email.toLowerCase() === wanted)
      .slice(0, limit);
  }

  /** Creates a user; returns false when the username is taken. */
  create(user: User, now: number): Promise<boolean> {
    return insertUnlessTaken(
      this.db,
      'users',
      { ...userRows.toRow(user), created_at: now, updated_at: now },
      'username',
    );
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(userRows.fromRow);
  }

  /** Disables the account from `at`, or enables it with null; false when there is no such user. */
  setDisabled(id: string, at: number | null, now: number): Promise<boolean> {
    return this.update(id, { disabled_at: at }, now);
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
  setPasswordHash(id: string, passwordHash: string, now: number): Promise<boolean> {
    return this.update(id, { password_hash: passwordHash }, now);
  }

  /** Sets `changes` and the update time on the user; false when there is no such user. */
  private update(id: string, changes: Partial<UsersTable>, now: number): Promise<boolean> {
    return updateOne(this.db, 'users', { ...changes, updated_at: now }, { id });
  }
}
