/** Opaque access tokens: the handle is random; what it stands for lives here, found by its hash. */
import type { OpaqueAccessToken } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { AccessTokenRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { accessTokenFromRow, accessTokenToRow } from './rows.ts';

const findAccessToken = compiled((db, p: { tokenHash: string }) =>
  db.selectFrom('access_tokens').selectAll().where('token_hash', '=', p.tokenHash),
);

export class SqlAccessTokenRepository implements AccessTokenRepository {
  constructor(private readonly db: Db) {}

  async create(token: OpaqueAccessToken): Promise<void> {
    await this.db.insertInto('access_tokens').values(accessTokenToRow(token)).execute();
  }

  async find(tokenHash: string): Promise<OpaqueAccessToken | undefined> {
    const [row] = (await findAccessToken(this.db, { tokenHash })).rows;
    return row && accessTokenFromRow(row);
  }
}
