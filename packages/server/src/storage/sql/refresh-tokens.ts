/** Refresh tokens (RFC 6749 §6), rotated by one conditional UPDATE (handles.ts). */
import type { RefreshToken } from '../../model.ts';
import type { RefreshTokenRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { Db } from './db.ts';
import { refreshTokenStatements, SqlHandleRepository } from './handles.ts';
import { refreshTokenFromRow, refreshTokenToRow } from './rows.ts';

export class SqlRefreshTokenRepository
  extends SqlHandleRepository<RefreshToken, Database['refresh_tokens']>
  implements RefreshTokenRepository
{
  constructor(db: Db) {
    super(db, refreshTokenStatements, refreshTokenToRow, refreshTokenFromRow);
  }

  /** The token when it can be redeemed (see grantIsLive), without using it up: for a token that is kept. */
  async findRedeemable(tokenHash: string, clientId: string, now: number): Promise<RefreshToken | undefined> {
    const [row] = (await this.statements.findRedeemable(this.db, { hash: tokenHash, clientId, now })).rows;
    return row && this.fromRow(row as Database['refresh_tokens']);
  }
}
