/** Local accounts, by id or username. */
import type { User } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { UserRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import { type Db, json, parseList } from './db.ts';

const findUserById = compiled((db, p: { id: string }) =>
  db.selectFrom('users').selectAll().where('id', '=', p.id),
);

export class SqlUserRepository implements UserRepository {
  constructor(private readonly db: Db) {}

  private static fromRow(row: Database['users']): User {
    return {
      id: row.id,
      username: row.username,
      passwordHash: row.password_hash,
      claims: JSON.parse(row.claims) as Record<string, unknown>,
      roles: parseList(row.roles),
    };
  }

  async findById(id: string): Promise<User | undefined> {
    const [row] = (await findUserById(this.db, { id })).rows;
    return row && SqlUserRepository.fromRow(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && SqlUserRepository.fromRow(row);
  }

  /** Creates a user; returns false when the username is taken. */
  async create(user: User, now: number): Promise<boolean> {
    const result = await this.db
      .insertInto('users')
      .values({
        id: user.id,
        username: user.username,
        password_hash: user.passwordHash,
        claims: json(user.claims),
        roles: json(user.roles),
        created_at: now,
        updated_at: now,
      })
      .onConflict((conflict) => conflict.column('username').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(SqlUserRepository.fromRow);
  }
}
