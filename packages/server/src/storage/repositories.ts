/**
 * Narrow repositories, one per concept, over Kysely. Endpoints and grants see only these interfaces.
 *
 * Single use is decided by the database: consuming a code or rotating a refresh token is one conditional
 * UPDATE whose affected row says who won (and is returned, so the winner reads the handle in the same
 * statement), so two requests (or two nodes) racing for the same handle can never both succeed. Everything
 * issued from one authorization carries its `grant_id`, and revoking a grant kills the whole family. The
 * family dies in one transaction (the caller's, or its own), so no member survives a crash half way.
 *
 * The same code runs on SQLite and PostgreSQL: conditional UPDATEs and ON CONFLICT are standard on both,
 * booleans are stored as 0/1 integers, lists as JSON text, times as integer seconds. Writes that caches
 * elsewhere depend on (clients, revocations) call their change listener inside their transaction, which on
 * PostgreSQL bumps a counter other nodes read (postgres.ts).
 *
 * The queries the login and token flows run on every request are built and compiled once (compiled.ts);
 * the rest are built per call, which costs nothing that matters at their rate.
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import type { ClientAuthMethod } from '../config/schema.ts';
import { compiled } from './compiled.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database> | Transaction<Database>;

/** Announces a write to cached data; called inside the write's transaction (storage/index.ts). */
export type ChangeListener = (db: Db) => void | Promise<void>;
const unobserved: ChangeListener = () => {};

/** Runs `work` in the caller's transaction, or in a new one. */
function inTransaction<T>(db: Db, work: (db: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

export interface Client {
  clientId: string;
  name: string;
  secretHash: string | null;
  tokenEndpointAuthMethod: ClientAuthMethod;
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  requireConsent: boolean;
  accessTokenTtl: number | null;
  source: 'config' | 'cli';
  createdAt: number;
  backchannelLogoutUri: string | null;
  corsOrigins: string[];
  /** RFC 9449 §5.2: token requests must carry a DPoP proof. */
  requireDpop: boolean;
  /** RFC 9126 §6: authorization requests must be pushed to /par. */
  requirePushedAuthorizationRequests: boolean;
  /** Keys and certificate identity for private_key_jwt and mutual TLS. */
  authentication: ClientAuthentication;
  /** RFC 8693: the API resource ids this client may exchange tokens into; null when it may not. */
  tokenExchange: { audiences: string[] } | null;
  /** `fapi2` when the FAPI 2.0 Security Profile applies to this client alone (protocol/profile.ts). */
  profile: 'fapi2' | null;
}

/** A client's registered credentials other than a secret (RFC 7591 §2, RFC 8705 §2.1.2, §3.4). */
export interface ClientAuthentication {
  jwks?: { keys: Record<string, unknown>[] };
  jwksUri?: string;
  tokenEndpointAuthSigningAlg?: string;
  tlsClientAuthSubjectDn?: string;
  tlsClientAuthSanDns?: string;
  tlsClientAuthSanUri?: string;
  tlsClientAuthSanIp?: string;
  tlsClientAuthSanEmail?: string;
  tlsClientCertificateBoundAccessTokens?: boolean;
}

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  claims: Record<string, unknown>;
  roles: string[];
}

export interface LoginSession {
  sid: string;
  userId: string;
  authTime: number;
  amr: string[];
  expiresAt: number;
}

export interface Interaction {
  id: string;
  csrfToken: string;
  /** SHA-256 of the browser cookie of the browser that started the interaction. */
  browserHash: string;
  clientId: string;
  request: AuthorizationRequestRecord;
  sessionSid: string | null;
  expiresAt: number;
  completedAt: number | null;
}

/** The validated authorization request, kept server-side while the user logs in and consents. */
export interface AuthorizationRequestRecord {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  resources: string[];
  state: string | undefined;
  nonce: string | undefined;
  codeChallenge: string;
  prompt: string[];
  maxAge: number | undefined;
  loginHint: string | undefined;
  /** RFC 9449 §10: the thumbprint of the DPoP key the authorization code is bound to. */
  dpopJkt?: string | undefined;
}

export interface Grant {
  id: string;
  clientId: string;
  userId: string | null;
  sid: string | null;
  scopes: string[];
  resources: string[];
  createdAt: number;
  revokedAt: number | null;
}

/** What an authorization code or refresh token carries about the authorization it came from. */
export interface IssuedHandle {
  grantId: string;
  clientId: string;
  userId: string;
  scope: string[];
  resources: string[];
  authTime: number;
  amr: string[];
  sid: string;
  expiresAt: number;
  consumedAt: number | null;
  createdAt: number;
  /**
   * RFC 9449 §10 and §5: the DPoP key thumbprint a code (from `dpop_jkt`) or a public client's refresh
   * token is bound to; redeeming it needs a proof made with that key.
   */
  dpopJkt: string | null;
}

export interface AuthorizationCode extends IssuedHandle {
  codeHash: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | null;
}

export interface RefreshToken extends IssuedHandle {
  tokenHash: string;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  notBefore: number;
  retiredAt: number | null;
  expiresAt: number | null;
}

const json = (value: unknown) => JSON.stringify(value);
const parseList = (text: string) => JSON.parse(text) as string[];
const affected = (result: { numUpdatedRows: bigint } | { numDeletedRows: bigint }) =>
  Number('numUpdatedRows' in result ? result.numUpdatedRows : result.numDeletedRows);

export class ClientRepository {
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
    return row && ClientRepository.fromRow(row);
  }

  async list(): Promise<Client[]> {
    const rows = await this.db.selectFrom('clients').selectAll().orderBy('client_id').execute();
    return rows.map(ClientRepository.fromRow);
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

const findUserById = compiled((db, p: { id: string }) =>
  db.selectFrom('users').selectAll().where('id', '=', p.id),
);

export class UserRepository {
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
    return row && UserRepository.fromRow(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && UserRepository.fromRow(row);
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
    return rows.map(UserRepository.fromRow);
  }
}

const findActiveSession = compiled((db, p: { idHash: string; now: number }) =>
  db
    .selectFrom('sessions')
    .selectAll()
    .where('id_hash', '=', p.idHash)
    .where('ended_at', 'is', null)
    .where('expires_at', '>', p.now),
);

export class SessionRepository {
  constructor(private readonly db: Db) {}

  async create(idHash: string, session: LoginSession, now: number): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id_hash: idHash,
        sid: session.sid,
        user_id: session.userId,
        auth_time: session.authTime,
        amr: json(session.amr),
        expires_at: session.expiresAt,
        created_at: now,
        ended_at: null,
      })
      .execute();
  }

  /** The live session for a cookie value's hash, or undefined when unknown, ended or expired. */
  async findActive(idHash: string, now: number): Promise<LoginSession | undefined> {
    const [row] = (await findActiveSession(this.db, { idHash, now })).rows;
    if (!row) return undefined;
    return {
      sid: row.sid,
      userId: row.user_id,
      authTime: Number(row.auth_time),
      amr: parseList(row.amr),
      expiresAt: Number(row.expires_at),
    };
  }

  async end(idHash: string, now: number): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ ended_at: now })
      .where('id_hash', '=', idHash)
      .where('ended_at', 'is', null)
      .execute();
  }

  /** Ends the session with this sid; true only for the one caller that ended it (a logout runs once). */
  async endBySid(sid: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({ ended_at: now })
      .where('sid', '=', sid)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  /**
   * Re-authentication of the same user: the live session keeps its sid (clients bound to it stay signed
   * in) but gets a new cookie id (no fixation), a new auth_time and a new expiry. False when it has ended.
   */
  async reauthenticate(
    idHash: string,
    newIdHash: string,
    session: Pick<LoginSession, 'authTime' | 'amr' | 'expiresAt'>,
    now: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({
        id_hash: newIdHash,
        auth_time: session.authTime,
        amr: json(session.amr),
        expires_at: session.expiresAt,
      })
      .where('id_hash', '=', idHash)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(result) === 1;
  }
}

export class InteractionRepository {
  constructor(private readonly db: Db) {}

  async create(interaction: Interaction, now: number): Promise<void> {
    await this.db
      .insertInto('interactions')
      .values({
        id: interaction.id,
        csrf_token: interaction.csrfToken,
        browser_hash: interaction.browserHash,
        client_id: interaction.clientId,
        request: json(interaction.request),
        session_sid: interaction.sessionSid,
        expires_at: interaction.expiresAt,
        created_at: now,
        completed_at: null,
      })
      .execute();
  }

  async findPending(id: string, now: number): Promise<Interaction | undefined> {
    const row = await this.db
      .selectFrom('interactions')
      .selectAll()
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      csrfToken: row.csrf_token,
      browserHash: row.browser_hash,
      clientId: row.client_id,
      request: JSON.parse(row.request) as AuthorizationRequestRecord,
      sessionSid: row.session_sid,
      expiresAt: Number(row.expires_at),
      completedAt: row.completed_at === null ? null : Number(row.completed_at),
    };
  }

  async attachSession(id: string, sid: string): Promise<void> {
    await this.db.updateTable('interactions').set({ session_sid: sid }).where('id', '=', id).execute();
  }

  /** Marks the interaction finished; false when another request finished it first. */
  async complete(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('interactions')
      .set({ completed_at: now })
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .executeTakeFirst();
    return affected(result) === 1;
  }
}

const findConsent = compiled((db, p: { userId: string; clientId: string }) =>
  db
    .selectFrom('consents')
    .select('scopes')
    .where('user_id', '=', p.userId)
    .where('client_id', '=', p.clientId),
);

export class ConsentRepository {
  constructor(private readonly db: Db) {}

  async find(userId: string, clientId: string): Promise<string[]> {
    const [row] = (await findConsent(this.db, { userId, clientId })).rows;
    return row ? parseList(row.scopes) : [];
  }

  async save(userId: string, clientId: string, scopes: string[], now: number): Promise<void> {
    const values = { user_id: userId, client_id: clientId, scopes: json(scopes), updated_at: now };
    await this.db
      .insertInto('consents')
      .values(values)
      .onConflict((conflict) =>
        conflict.columns(['user_id', 'client_id']).doUpdateSet({ scopes: values.scopes, updated_at: now }),
      )
      .execute();
  }

  /** Forgets every consent given to a client (when the client is removed). */
  async removeForClient(clientId: string): Promise<void> {
    await this.db.deleteFrom('consents').where('client_id', '=', clientId).execute();
  }
}

const insertGrant = compiled((db, row: Database['grants']) => db.insertInto('grants').values(row));
const findGrant = compiled((db, p: { id: string }) =>
  db.selectFrom('grants').selectAll().where('id', '=', p.id),
);

export class GrantRepository {
  /** `changed` is called after revocations, so the in-memory revocation view reloads. */
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener = unobserved,
  ) {}

  async create(grant: Grant): Promise<void> {
    await insertGrant(this.db, {
      id: grant.id,
      client_id: grant.clientId,
      user_id: grant.userId,
      sid: grant.sid,
      scopes: json(grant.scopes),
      resources: json(grant.resources),
      created_at: grant.createdAt,
      revoked_at: grant.revokedAt,
    });
  }

  private static fromRow(row: Database['grants']): Grant {
    return {
      id: row.id,
      clientId: row.client_id,
      userId: row.user_id,
      sid: row.sid,
      scopes: parseList(row.scopes),
      resources: parseList(row.resources),
      createdAt: Number(row.created_at),
      revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    };
  }

  async find(id: string): Promise<Grant | undefined> {
    const [row] = (await findGrant(this.db, { id })).rows;
    return row && GrantRepository.fromRow(row);
  }

  /** Every grant made in one login session (revoked ones included), oldest first. */
  async listBySid(sid: string): Promise<Grant[]> {
    const rows = await this.db
      .selectFrom('grants')
      .selectAll()
      .where('sid', '=', sid)
      .orderBy('created_at')
      .execute();
    return rows.map(GrantRepository.fromRow);
  }

  /**
   * Revokes a grant and everything issued from it: unredeemed codes and live refresh tokens are marked
   * consumed in the same transaction, so no member of the family can be used afterwards.
   */
  revoke(id: string, now: number): Promise<void> {
    return this.revokeWhere('id', 'grant_id', id, now);
  }

  /**
   * Revokes every grant of a client (and what was issued from them), for when the client is removed: a
   * client registered again later under the same id must not inherit its predecessor's tokens.
   */
  revokeAllForClient(clientId: string, now: number): Promise<void> {
    return this.revokeWhere('client_id', 'client_id', clientId, now);
  }

  /** Revokes the grants whose `grantColumn` is `value`, and the codes and refresh tokens issued from them. */
  private async revokeWhere(
    grantColumn: 'id' | 'client_id',
    handleColumn: 'grant_id' | 'client_id',
    value: string,
    now: number,
  ): Promise<void> {
    await inTransaction(this.db, async (db) => {
      const revoked = await db
        .updateTable('grants')
        .set({ revoked_at: now })
        .where(grantColumn, '=', value)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      await db
        .updateTable('refresh_tokens')
        .set({ consumed_at: now })
        .where(handleColumn, '=', value)
        .where('consumed_at', 'is', null)
        .execute();
      await db
        .updateTable('authorization_codes')
        .set({ consumed_at: now })
        .where(handleColumn, '=', value)
        .where('consumed_at', 'is', null)
        .execute();
      // Only a newly revoked grant changes what caches hold. Requests that find the family already dead
      // (every loser of a reuse race) then take no lock on the change counter and do not queue behind it.
      if (affected(revoked) > 0) await this.changed(db);
    });
  }
}

function handleFromRow(row: Database['refresh_tokens'] | Database['authorization_codes']): IssuedHandle {
  return {
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: parseList(row.scope),
    resources: parseList(row.resources),
    authTime: Number(row.auth_time),
    amr: parseList(row.amr),
    sid: row.sid,
    expiresAt: Number(row.expires_at),
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
    createdAt: Number(row.created_at),
    dpopJkt: row.dpop_jkt,
  };
}

function handleToRow(handle: IssuedHandle) {
  return {
    grant_id: handle.grantId,
    client_id: handle.clientId,
    user_id: handle.userId,
    scope: json(handle.scope),
    resources: json(handle.resources),
    auth_time: handle.authTime,
    amr: json(handle.amr),
    sid: handle.sid,
    expires_at: handle.expiresAt,
    consumed_at: handle.consumedAt,
    created_at: handle.createdAt,
    dpop_jkt: handle.dpopJkt,
  };
}

/**
 * A code or refresh token can be redeemed when it is presented by its own client, is not used yet, has not
 * expired, and its grant is not revoked. All four are checked inside the one statement that takes it (a row
 * read before could have gone stale by then; inside the statement it cannot); this is the last of them.
 */
function grantIsLive(table: 'authorization_codes' | 'refresh_tokens') {
  return sql<boolean>`exists (select 1 from grants where grants.id = ${sql.ref(`${table}.grant_id`)} and grants.revoked_at is null)`;
}

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

function codeFromRow(row: Database['authorization_codes']): AuthorizationCode {
  return {
    ...handleFromRow(row),
    codeHash: row.code_hash,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    nonce: row.nonce,
  };
}

export class AuthorizationCodeRepository {
  constructor(private readonly db: Db) {}

  async create(code: AuthorizationCode): Promise<void> {
    await insertCode(this.db, {
      ...handleToRow(code),
      code_hash: code.codeHash,
      redirect_uri: code.redirectUri,
      code_challenge: code.codeChallenge,
      nonce: code.nonce,
    });
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

function refreshTokenFromRow(row: Database['refresh_tokens']): RefreshToken {
  return { ...handleFromRow(row), tokenHash: row.token_hash };
}

export class RefreshTokenRepository {
  constructor(private readonly db: Db) {}

  async create(token: RefreshToken): Promise<void> {
    await insertRefreshToken(this.db, { ...handleToRow(token), token_hash: token.tokenHash });
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

export class SigningKeyRepository {
  constructor(private readonly db: Db) {}

  private static fromRow(row: Database['signing_keys']): SigningKeyRecord {
    return {
      kid: row.kid,
      alg: row.alg,
      privateJwk: row.private_jwk,
      publicJwk: row.public_jwk,
      createdAt: Number(row.created_at),
      notBefore: Number(row.not_before),
      retiredAt: row.retired_at === null ? null : Number(row.retired_at),
      expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    };
  }

  /** Keys still published (not past their expiry), oldest first. */
  async listPublished(now: number): Promise<SigningKeyRecord[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('not_before')
      .orderBy('created_at')
      .execute();
    return rows.map(SigningKeyRepository.fromRow);
  }

  async create(key: SigningKeyRecord): Promise<void> {
    await this.db
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        alg: key.alg,
        private_jwk: key.privateJwk,
        public_jwk: key.publicJwk,
        created_at: key.createdAt,
        not_before: key.notBefore,
        retired_at: key.retiredAt,
        expires_at: key.expiresAt,
      })
      .execute();
  }

  /** Every stored key, published or not (for sealing them all when at-rest encryption changes). */
  async listAll(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().execute();
    return rows.map(SigningKeyRepository.fromRow);
  }

  /** Replaces the stored private half of a key (sealed again with another secret, keys/key-encryption.ts). */
  async replacePrivateJwk(kid: string, privateJwk: string): Promise<void> {
    await this.db
      .updateTable('signing_keys')
      .set({ private_jwk: privateJwk })
      .where('kid', '=', kid)
      .execute();
  }

  /** Retires every key that is still signing (or scheduled to) other than `keepKid`. */
  async retireOthers(keepKid: string, retiredAt: number, expiresAt: number): Promise<void> {
    await this.db
      .updateTable('signing_keys')
      .set({ retired_at: retiredAt, expires_at: expiresAt })
      .where('kid', '!=', keepKid)
      .where('retired_at', 'is', null)
      .execute();
  }
}

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'consumed';

/** RFC 8628 device authorization: pending until the user approves or denies it on the verification page. */
export interface DeviceCode {
  deviceCodeHash: string;
  userCode: string;
  clientId: string;
  scope: string[];
  resources: string[];
  interval: number;
  expiresAt: number;
  lastPolledAt: number | null;
  status: DeviceCodeStatus;
  userId: string | null;
  authTime: number | null;
  amr: string[] | null;
  sid: string | null;
  createdAt: number;
}

export class DeviceCodeRepository {
  constructor(private readonly db: Db) {}

  private static fromRow(row: Database['device_codes']): DeviceCode {
    return {
      deviceCodeHash: row.device_code_hash,
      userCode: row.user_code,
      clientId: row.client_id,
      scope: parseList(row.scope),
      resources: parseList(row.resources),
      interval: row.interval,
      expiresAt: Number(row.expires_at),
      lastPolledAt: row.last_polled_at === null ? null : Number(row.last_polled_at),
      status: row.status as DeviceCodeStatus,
      userId: row.user_id,
      authTime: row.auth_time === null ? null : Number(row.auth_time),
      amr: row.amr === null ? null : parseList(row.amr),
      sid: row.sid,
      createdAt: Number(row.created_at),
    };
  }

  /** Inserts a device code; false when the user code collides with a live one (the caller draws again). */
  async create(code: DeviceCode): Promise<boolean> {
    const result = await this.db
      .insertInto('device_codes')
      .values({
        device_code_hash: code.deviceCodeHash,
        user_code: code.userCode,
        client_id: code.clientId,
        scope: json(code.scope),
        resources: json(code.resources),
        interval: code.interval,
        expires_at: code.expiresAt,
        last_polled_at: code.lastPolledAt,
        status: code.status,
        user_id: code.userId,
        auth_time: code.authTime,
        amr: code.amr === null ? null : json(code.amr),
        sid: code.sid,
        created_at: code.createdAt,
      })
      .onConflict((conflict) => conflict.column('user_code').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async findByHash(deviceCodeHash: string): Promise<DeviceCode | undefined> {
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('device_code_hash', '=', deviceCodeHash)
      .executeTakeFirst();
    return row && DeviceCodeRepository.fromRow(row);
  }

  async findPendingByUserCode(userCode: string, now: number): Promise<DeviceCode | undefined> {
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('user_code', '=', userCode)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row && DeviceCodeRepository.fromRow(row);
  }

  /**
   * Records a poll. When the previous poll came sooner than the interval allows, the interval grows by
   * five seconds (RFC 8628 §3.5) and the result says to slow down.
   */
  async recordPoll(
    deviceCodeHash: string,
    now: number,
    previous: number | null,
    interval: number,
  ): Promise<'ok' | 'slow_down'> {
    const tooSoon = previous !== null && now - previous < interval;
    await this.db
      .updateTable('device_codes')
      .set({ last_polled_at: now, ...(tooSoon ? { interval: interval + 5 } : {}) })
      .where('device_code_hash', '=', deviceCodeHash)
      .execute();
    return tooSoon ? 'slow_down' : 'ok';
  }

  /** Approves or denies a pending code; false when it is no longer pending (or has expired). */
  async decide(
    userCode: string,
    now: number,
    decision:
      | { status: 'approved'; userId: string; authTime: number; amr: string[]; sid: string }
      | { status: 'denied' },
  ): Promise<boolean> {
    const values =
      decision.status === 'approved'
        ? {
            status: 'approved',
            user_id: decision.userId,
            auth_time: decision.authTime,
            amr: json(decision.amr),
            sid: decision.sid,
          }
        : { status: 'denied' };
    const result = await this.db
      .updateTable('device_codes')
      .set(values)
      .where('user_code', '=', userCode)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  /** Atomically moves an approved code to consumed; true only for the one poll that gets the tokens. */
  async consume(deviceCodeHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('device_codes')
      .set({ status: 'consumed' })
      .where('device_code_hash', '=', deviceCodeHash)
      .where('status', '=', 'approved')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(result) === 1;
  }
}

/** An opaque access token: the handle is random; what it stands for lives here, found by its hash. */
export interface OpaqueAccessToken {
  tokenHash: string;
  jti: string;
  grantId: string | null;
  clientId: string;
  subject: string;
  scope: string;
  audience: string[];
  authTime: number | null;
  roles: string[] | null;
  expiresAt: number;
  createdAt: number;
  /** RFC 7800 confirmation of a bound token (`jkt`, `x5t#S256`), or null for a bearer token. */
  cnf: Record<string, string> | null;
}

export class AccessTokenRepository {
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

/**
 * Revocation state of access tokens. A JWT cannot be recalled, so a revoked one is remembered by `jti`
 * until it expires; tokens of a revoked grant are refused through the grant.
 */
export class RevocationRepository {
  /** `changed` is called after every write, so the in-memory revocation view (storage/index.ts) reloads. */
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener = unobserved,
  ) {}

  async revokeJti(jti: string, expiresAt: number): Promise<void> {
    await inTransaction(this.db, async (db) => {
      const inserted = await db
        .insertInto('revoked_tokens')
        .values({ jti, expires_at: expiresAt })
        .onConflict((conflict) => conflict.column('jti').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) await this.changed(db);
    });
  }

  /**
   * Everything that can still make a live access token invalid: jtis revoked and not yet expired, and grants
   * revoked since `grantsSince` (an access token lives at most 15 minutes, so a grant revoked longer ago
   * than that has no live token issued before its revocation, and it issues none after).
   */
  async live(now: number, grantsSince: number): Promise<{ jtis: string[]; grantIds: string[] }> {
    const jtis = await this.db
      .selectFrom('revoked_tokens')
      .select('jti')
      .where('expires_at', '>', now)
      .execute();
    const grants = await this.db
      .selectFrom('grants')
      .select('id')
      .where('revoked_at', '>=', grantsSince)
      .execute();
    return { jtis: jtis.map((row) => row.jti), grantIds: grants.map((row) => row.id) };
  }
}

/** A pushed authorization request (RFC 9126 §2), found by the SHA-256 of its request_uri's random part. */
export interface PushedAuthorizationRequest {
  requestUriHash: string;
  clientId: string;
  /** The pushed parameters, name to values, exactly as received. */
  parameters: Record<string, string[]>;
  expiresAt: number;
  createdAt: number;
}

export class PushedAuthorizationRequestRepository {
  constructor(private readonly db: Db) {}

  async create(request: PushedAuthorizationRequest): Promise<void> {
    await this.db
      .insertInto('pushed_authorization_requests')
      .values({
        request_uri_hash: request.requestUriHash,
        client_id: request.clientId,
        parameters: json(request.parameters),
        expires_at: request.expiresAt,
        consumed_at: null,
        created_at: request.createdAt,
      })
      .execute();
  }

  /**
   * Uses the request once (RFC 9126 §4): one conditional UPDATE marks it consumed, only for its own client
   * and before it expires, and returns its parameters; undefined when it is unknown, another client's,
   * expired or already used (a use by another client does not consume it).
   */
  async consume(
    requestUriHash: string,
    clientId: string,
    now: number,
  ): Promise<Record<string, string[]> | undefined> {
    const row = await this.db
      .updateTable('pushed_authorization_requests')
      .set({ consumed_at: now })
      .where('request_uri_hash', '=', requestUriHash)
      .where('client_id', '=', clientId)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('parameters')
      .executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.parameters) as Record<string, string[]>);
  }
}
