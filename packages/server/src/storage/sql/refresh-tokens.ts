/** Refresh tokens (RFC 6749 §6), rotated by one conditional UPDATE (handles.ts). */
import { sql } from 'kysely';
import type { RefreshToken } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { RefreshTokenRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { Db } from './db.ts';
import { grantIsLive, refreshTokenStatements, SqlHandleRepository } from './handles.ts';
import { refreshTokenRows } from './rows.ts';

/**
 * A kept token's new idle expiry, capped by its absolute one. CASE rather than min()/least(): SQLite and
 * PostgreSQL name the two-argument minimum differently.
 */
const keepStatement = compiled((db, p: { hash: string; clientId: string; now: number; idleUntil: number }) =>
  db
    .updateTable('refresh_tokens')
    .set({
      expires_at: sql<number>`case when absolute_expires_at < ${p.idleUntil} then absolute_expires_at else ${p.idleUntil} end`,
    })
    .where('token_hash', '=', p.hash)
    .where('client_id', '=', p.clientId)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', p.now)
    .where(grantIsLive('refresh_tokens'))
    .returningAll(),
);

export class SqlRefreshTokenRepository
  extends SqlHandleRepository<RefreshToken, Database['refresh_tokens']>
  implements RefreshTokenRepository
{
  constructor(db: Db) {
    super(db, refreshTokenStatements, refreshTokenRows.toRow, refreshTokenRows.fromRow);
  }

  /** The token when it can be redeemed (see grantIsLive), without using it up: for a token that is kept. */
  async findRedeemable(tokenHash: string, clientId: string, now: number): Promise<RefreshToken | undefined> {
    const [row] = (await this.statements.findRedeemable(this.db, { hash: tokenHash, clientId, now })).rows;
    return row && this.fromRow(row as Database['refresh_tokens']);
  }

  async keep(
    tokenHash: string,
    clientId: string,
    now: number,
    idleUntil: number,
  ): Promise<RefreshToken | undefined> {
    const [row] = (await keepStatement(this.db, { hash: tokenHash, clientId, now, idleUntil })).rows;
    return row && this.fromRow(row as Database['refresh_tokens']);
  }
}
