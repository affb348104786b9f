/** Refresh tokens (RFC 6749 §6), rotated by one conditional UPDATE. */
import type { RefreshToken } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { RefreshTokenRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { Db } from './db.ts';
import { grantIsLive } from './handles.ts';
import { refreshTokenFromRow, refreshTokenToRow } from './rows.ts';

const insertRefreshToken = compiled((db, row: Database['refresh_tokens']) =>
  db.insertInto('refresh_tokens').values(row),
);
const findRefreshToken = compiled((db, p: { tokenHash: string }) =>
  db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', p.tokenHash),
);
const consumeRefreshToken = compiled((db, p: { now: number; tokenHash: string; clientId: string }) =>
  db
    .updateTable('refresh_tokens')
    .set({ consumed_at: p.now })
    .where('token_hash', '=', p.tokenHash)
    .where('client_id', '=', p.clientId)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', p.now)
    .where(grantIsLive('refresh_tokens'))
    .returningAll(),
);
const findRedeemableRefreshToken = compiled((db, p: { tokenHash: string; clientId: string; now: number }) =>
  db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('token_hash', '=', p.tokenHash)
    .where('client_id', '=', p.clientId)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', p.now)
    .where(grantIsLive('refresh_tokens')),
);

export class SqlRefreshTokenRepository implements RefreshTokenRepository {
  constructor(private readonly db: Db) {}

  async create(token: RefreshToken): Promise<void> {
    await insertRefreshToken(this.db, refreshTokenToRow(token));
  }

  async find(tokenHash: string): Promise<RefreshToken | undefined> {
    const [row] = (await findRefreshToken(this.db, { tokenHash })).rows;
    return row && refreshTokenFromRow(row);
  }

  /**
   * Rotates the token: one conditional UPDATE marks it used and returns it (as now used), only for the one
   * caller that got it and only when it can be redeemed (see grantIsLive); undefined otherwise, and `find`
   * tells why.
   */
  async consume(tokenHash: string, clientId: string, now: number): Promise<RefreshToken | undefined> {
    const [row] = (await consumeRefreshToken(this.db, { now, tokenHash, clientId })).rows;
    return row && refreshTokenFromRow(row);
  }

  /** The token when it can be redeemed (see grantIsLive), without using it up: for a token that is kept. */
  async findRedeemable(tokenHash: string, clientId: string, now: number): Promise<RefreshToken | undefined> {
    const [row] = (await findRedeemableRefreshToken(this.db, { tokenHash, clientId, now })).rows;
    return row && refreshTokenFromRow(row);
  }
}
