/** Opaque access tokens: the handle is random; what it stands for lives here, found by its hash. */
import type { OpaqueAccessToken } from '../../model.ts';
import type { AccessTokenRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { accessTokenRows } from './rows.ts';
import { compiledFindBy } from './statements.ts';

const findAccessToken = compiledFindBy('access_tokens', 'token_hash');

export class SqlAccessTokenRepository implements AccessTokenRepository {
  constructor(private readonly db: Db) {}

  async create(token: OpaqueAccessToken): Promise<void> {
    await this.db.insertInto('access_tokens').values(accessTokenRows.toRow(token)).execute();
  }

  async find(tokenHash: string): Promise<OpaqueAccessToken | undefined> {
    const [row] = (await findAccessToken(this.db, { key: tokenHash })).rows;
    return row && accessTokenRows.fromRow(row);
  }
}
