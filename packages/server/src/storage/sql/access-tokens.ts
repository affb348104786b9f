/** Opaque access tokens: the handle is random; what it stands for lives here, found by its hash. */
import type { OpaqueAccessToken } from '../../model.ts';
import type { AccessTokenRepository } from '../ports.ts';
import { type Db, json, parseList } from './db.ts';

export class SqlAccessTokenRepository implements AccessTokenRepository {
  constructor(private readonly db: Db) {}

  async create(token: OpaqueAccessToken): Promise<void> {
    await this.db
      .insertInto('access_tokens')
      .values({
        token_hash: token.tokenHash,
        jti: token.jti,
        grant_id: token.grantId,
        client_id: token.clientId,
        subject: token.subject,
        scope: token.scope,
        audience: json(token.audience),
        auth_time: token.authTime,
        roles: token.roles === null ? null : json(token.roles),
        expires_at: token.expiresAt,
        created_at: token.createdAt,
        cnf: token.cnf === null ? null : json(token.cnf),
      })
      .execute();
  }

  async find(tokenHash: string): Promise<OpaqueAccessToken | undefined> {
    const row = await this.db
      .selectFrom('access_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      tokenHash: row.token_hash,
      jti: row.jti,
      grantId: row.grant_id,
      clientId: row.client_id,
      subject: row.subject,
      scope: row.scope,
      audience: parseList(row.audience),
      authTime: row.auth_time === null ? null : Number(row.auth_time),
      roles: row.roles === null ? null : parseList(row.roles),
      expiresAt: Number(row.expires_at),
      createdAt: Number(row.created_at),
      cnf: row.cnf === null ? null : (JSON.parse(row.cnf) as Record<string, string>),
    };
  }
}
