/**
 * Authorization codes (RFC 6749 §4.1.2) and refresh tokens (RFC 6749 §6) are single-use handles stored by
 * hash, each taken by one conditional UPDATE: of concurrent redemptions exactly one gets the row.
 */
import { sql } from 'kysely';
import type { IssuedHandle } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { Database } from '../schema.ts';
import type { Db } from './db.ts';

export type HandleTable = 'authorization_codes' | 'refresh_tokens';

/**
 * A code or refresh token can be redeemed when it is presented by its own client, is not used yet, has not
 * expired, and its grant is not revoked. All four are checked inside the one statement that takes it (a row
 * read before could have gone stale by then; inside the statement it cannot); this is the last of them.
 */
export function grantIsLive(table: HandleTable) {
  return sql<boolean>`exists (select 1 from grants where grants.id = ${sql.ref(`${table}.grant_id`)} and grants.revoked_at is null)`;
}

/** The statements of one handle table, built and compiled once per table (compiled.ts). */
function handleStatements(table: HandleTable, hashColumn: 'code_hash' | 'token_hash') {
  return {
    insert: compiled((db, row: Database[HandleTable]) => db.insertInto(table).values(row)),
    find: compiled((db, p: { hash: string }) =>
      db.selectFrom(table).selectAll().where(hashColumn, '=', p.hash),
    ),
    consume: compiled((db, p: { now: number; hash: string; clientId: string }) =>
      db
        .updateTable(table)
        .set({ consumed_at: p.now })
        .where(hashColumn, '=', p.hash)
        .where('client_id', '=', p.clientId)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', p.now)
        .where(grantIsLive(table))
        .returningAll(),
    ),
    findRedeemable: compiled((db, p: { hash: string; clientId: string; now: number }) =>
      db
        .selectFrom(table)
        .selectAll()
        .where(hashColumn, '=', p.hash)
        .where('client_id', '=', p.clientId)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', p.now)
        .where(grantIsLive(table)),
    ),
  };
}

export const codeStatements = handleStatements('authorization_codes', 'code_hash');
export const refreshTokenStatements = handleStatements('refresh_tokens', 'token_hash');

/** Stores, finds and takes the handles of one table; `fromRow` and `toRow` are the table's (rows.ts). */
export class SqlHandleRepository<Handle extends IssuedHandle, Row extends Database[HandleTable]> {
  constructor(
    protected readonly db: Db,
    protected readonly statements: ReturnType<typeof handleStatements>,
    private readonly toRow: (handle: Handle) => Row,
    protected readonly fromRow: (row: Row) => Handle,
  ) {}

  async create(handle: Handle): Promise<void> {
    await this.statements.insert(this.db, this.toRow(handle));
  }

  async find(hash: string): Promise<Handle | undefined> {
    const [row] = (await this.statements.find(this.db, { hash })).rows;
    return row && this.fromRow(row as Row);
  }

  /**
   * Takes the handle: one conditional UPDATE marks it used and returns it (as now used), only for the one
   * caller that got it and only when it can be redeemed (see grantIsLive); undefined otherwise, and `find`
   * tells why.
   */
  async consume(hash: string, clientId: string, now: number): Promise<Handle | undefined> {
    const [row] = (await this.statements.consume(this.db, { now, hash, clientId })).rows;
    return row && this.fromRow(row as Row);
  }
}
