/** Authorization codes (RFC 6749 §4.1.2), single use by one conditional UPDATE. */
import type { AuthorizationCode } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { AuthorizationCodeRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { Db } from './db.ts';
import { grantIsLive } from './handles.ts';
import { codeFromRow, codeToRow } from './rows.ts';

const insertCode = compiled((db, row: Database['authorization_codes']) =>
  db.insertInto('authorization_codes').values(row),
);
const findCode = compiled((db, p: { codeHash: string }) =>
  db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', p.codeHash),
);
const consumeCode = compiled((db, p: { now: number; codeHash: string; clientId: string }) =>
  db
    .updateTable('authorization_codes')
    .set({ consumed_at: p.now })
    .where('code_hash', '=', p.codeHash)
    .where('client_id', '=', p.clientId)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', p.now)
    .where(grantIsLive('authorization_codes'))
    .returningAll(),
);

export class SqlAuthorizationCodeRepository implements AuthorizationCodeRepository {
  constructor(private readonly db: Db) {}

  async create(code: AuthorizationCode): Promise<void> {
    await insertCode(this.db, codeToRow(code));
  }

  async find(codeHash: string): Promise<AuthorizationCode | undefined> {
    const [row] = (await findCode(this.db, { codeHash })).rows;
    return row && codeFromRow(row);
  }

  /**
   * Redeems the code: one conditional UPDATE marks it used and returns it (as now used), only for the one
   * caller that got it and only when it can be redeemed (see grantIsLive); undefined otherwise, and `find`
   * tells why.
   */
  async consume(codeHash: string, clientId: string, now: number): Promise<AuthorizationCode | undefined> {
    const [row] = (await consumeCode(this.db, { now, codeHash, clientId })).rows;
    return row && codeFromRow(row);
  }
}
