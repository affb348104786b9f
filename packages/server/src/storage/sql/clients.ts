/** Clients (RFC 7591 §2 metadata), one row each; lists and the authentication metadata are JSON text. */
import type { Client, ClientAuthentication } from '../../model.ts';
import type { ClientRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import { affected, type ChangeListener, type Db, inTransaction, json, parseList, unobserved } from './db.ts';

export class SqlClientRepository implements ClientRepository {
  /** `changed` is called after every write, so caches of clients (storage/index.ts) can drop their copies. */
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener = unobserved,
  ) {}

  private static fromRow(row: Database['clients']): Client {
    return {
      clientId: row.client_id,
      name: row.name,
      secretHash: row.secret_hash,
      tokenEndpointAuthMethod: row.token_endpoint_auth_method as Client['tokenEndpointAuthMethod'],
      grantTypes: parseList(row.grant_types),
      redirectUris: parseList(row.redirect_uris),
      postLogoutRedirectUris: parseList(row.post_logout_redirect_uris),
      scopes: parseList(row.scopes),
      requireConsent: row.require_consent === 1,
      accessTokenTtl: row.access_token_ttl,
      source: row.source as Client['source'],
      createdAt: Number(row.created_at),
      backchannelLogoutUri: row.backchannel_logout_uri,
      corsOrigins: parseList(row.cors_origins),
      requireDpop: row.require_dpop === 1,
      requirePushedAuthorizationRequests: row.require_par === 1,
      authentication: JSON.parse(row.authentication) as ClientAuthentication,
      tokenExchange:
        row.token_exchange === null ? null : (JSON.parse(row.token_exchange) as { audiences: string[] }),
      profile: row.profile === 'fapi2' ? 'fapi2' : null,
    };
  }

  async find(clientId: string): Promise<Client | undefined> {
    const row = await this.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row && SqlClientRepository.fromRow(row);
  }

  async list(): Promise<Client[]> {
    const rows = await this.db.selectFrom('clients').selectAll().orderBy('client_id').execute();
    return rows.map(SqlClientRepository.fromRow);
  }

  /** Inserts or replaces a client. */
  async save(client: Client): Promise<void> {
    const row = {
      client_id: client.clientId,
      name: client.name,
      secret_hash: client.secretHash,
      token_endpoint_auth_method: client.tokenEndpointAuthMethod,
      grant_types: json(client.grantTypes),
      redirect_uris: json(client.redirectUris),
      post_logout_redirect_uris: json(client.postLogoutRedirectUris),
      scopes: json(client.scopes),
      require_consent: client.requireConsent ? 1 : 0,
      access_token_ttl: client.accessTokenTtl,
      source: client.source,
      created_at: client.createdAt,
      backchannel_logout_uri: client.backchannelLogoutUri,
      cors_origins: json(client.corsOrigins),
      require_dpop: client.requireDpop ? 1 : 0,
      require_par: client.requirePushedAuthorizationRequests ? 1 : 0,
      authentication: json(client.authentication),
      token_exchange: client.tokenExchange === null ? null : json(client.tokenExchange),
      profile: client.profile,
    };
    await inTransaction(this.db, async (db) => {
      await db
        .insertInto('clients')
        .values(row)
        .onConflict((conflict) => conflict.column('client_id').doUpdateSet(row))
        .execute();
      await this.changed(db);
    });
  }

  async updateSecretHash(clientId: string, secretHash: string): Promise<boolean> {
    const result = await inTransaction(this.db, async (db) => {
      const result = await db
        .updateTable('clients')
        .set({ secret_hash: secretHash })
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      await this.changed(db);
      return result;
    });
    return affected(result) === 1;
  }

  async remove(clientId: string): Promise<boolean> {
    const result = await inTransaction(this.db, async (db) => {
      const result = await db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
      await this.changed(db);
      return result;
    });
    return affected(result) === 1;
  }
}
