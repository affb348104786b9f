/**
 * How each model type is stored as a row, and read back; the same on SQLite and PostgreSQL: lists and
 * objects are JSON text, booleans 0/1 integers, times integer seconds. Most models are declared column by
 * column once (columns.ts); a client, with its fields present only when set, is written out both ways. The
 * repositories beside this file hold only their statements.
 */
import type {
  AuthorizationCode,
  BackchannelAuthenticationRequest,
  BackchannelClientSettings,
  Client,
  ClientAuthentication,
  ClientSecret,
  DeviceCode,
  Grant,
  Interaction,
  IssuedHandle,
  LoginSession,
  OpaqueAccessToken,
  PolledAuthorization,
  PushedAuthorizationRequest,
  RefreshToken,
  RefreshTokenLifetime,
  SigningKeyRecord,
  User,
} from '../../model.ts';
import type { Database } from '../schema.ts';
import {
  type Columns,
  either,
  integer,
  integerOrNull,
  jsonText,
  list,
  nullableJson,
  nullableList,
  optionalJson,
  rowMapping,
  text,
  textOf,
} from './columns.ts';
import { json, jsonOrNull, parseList } from './db.ts';

export function clientFromRow(row: Database['clients']): Client {
  return {
    clientId: row.client_id,
    name: row.name,
    secrets: JSON.parse(row.secrets) as ClientSecret[],
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
    // Present only when set, so a client read back equals the one saved without it.
    ...(row.require_mfa === 1 ? { requireMfa: true } : {}),
    ...(parseList(row.upstreams).length === 0 ? {} : { upstreams: parseList(row.upstreams) }),
    authentication: JSON.parse(row.authentication) as ClientAuthentication,
    tokenExchange:
      row.token_exchange === null ? null : (JSON.parse(row.token_exchange) as { audiences: string[] }),
    profile: row.profile === 'fapi2' ? 'fapi2' : null,
    refreshTokenLifetime: {
      absolute: null,
      idle: null,
      ...(row.refresh_token_lifetime === null
        ? {}
        : (JSON.parse(row.refresh_token_lifetime) as Partial<RefreshTokenLifetime>)),
    },
    // Absent, not null, for a client without CIBA, so clients stored before migration 0014 read the same.
    ...(row.backchannel_authentication == null
      ? {}
      : {
          backchannelAuthentication: JSON.parse(row.backchannel_authentication) as BackchannelClientSettings,
        }),
    ...(row.disabled_at == null ? {} : { disabledAt: Number(row.disabled_at) }),
  };
}

/**
 * The row of a client; the registration access token hash and `disabled_at` are written on their own
 * (clients.ts), never by a save.
 */
export function clientToRow(
  client: Client,
): Omit<Database['clients'], 'registration_access_token_hash' | 'disabled_at'> {
  return {
    client_id: client.clientId,
    name: client.name,
    secret_hash: client.secrets[0]?.hash ?? null,
    secrets: json(client.secrets),
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
    require_mfa: client.requireMfa === true ? 1 : 0,
    upstreams: json(client.upstreams ?? []),
    authentication: json(client.authentication),
    token_exchange: jsonOrNull(client.tokenExchange),
    profile: client.profile,
    refresh_token_lifetime:
      client.refreshTokenLifetime.absolute === null && client.refreshTokenLifetime.idle === null
        ? null
        : json(client.refreshTokenLifetime),
    backchannel_authentication: jsonOrNull(client.backchannelAuthentication ?? null),
  };
}

export const userRows = rowMapping<User, Database['users']>()({
  id: text('id'),
  username: text('username'),
  passwordHash: text('password_hash'),
  claims: jsonText('claims'),
  roles: list('roles'),
  disabledAt: integerOrNull('disabled_at'),
});

export const sessionRows = rowMapping<LoginSession, Database['sessions']>()({
  sid: text('sid'),
  userId: text('user_id'),
  authTime: integer('auth_time'),
  amr: list('amr'),
  expiresAt: integer('expires_at'),
  upstream: optionalJson('upstream'),
});

export const interactionRows = rowMapping<Interaction, Database['interactions']>()({
  id: text('id'),
  csrfToken: text('csrf_token'),
  browserHash: text('browser_hash'),
  clientId: text('client_id'),
  request: jsonText('request'),
  sessionSid: text('session_sid'),
  expiresAt: integer('expires_at'),
  completedAt: integerOrNull('completed_at'),
});

export const grantRows = rowMapping<Grant, Database['grants']>()({
  id: text('id'),
  clientId: text('client_id'),
  userId: text('user_id'),
  sid: text('sid'),
  scopes: list('scopes'),
  resources: list('resources'),
  createdAt: integer('created_at'),
  revokedAt: integerOrNull('revoked_at'),
  claimsRequest: optionalJson('claims_request'),
});

/** The columns authorization codes and refresh tokens share. */
const handleColumns = {
  grantId: text('grant_id'),
  clientId: text('client_id'),
  userId: text('user_id'),
  scope: list('scope'),
  resources: list('resources'),
  authTime: integer('auth_time'),
  amr: list('amr'),
  sid: text('sid'),
  expiresAt: integer('expires_at'),
  consumedAt: integerOrNull('consumed_at'),
  createdAt: integer('created_at'),
  dpopJkt: text('dpop_jkt'),
  claimsRequest: optionalJson('claims_request'),
} satisfies Columns<IssuedHandle, Database['authorization_codes'] & Database['refresh_tokens']>;

export const codeRows = rowMapping<AuthorizationCode, Database['authorization_codes']>()({
  ...handleColumns,
  codeHash: text('code_hash'),
  redirectUri: text('redirect_uri'),
  codeChallenge: text('code_challenge'),
  nonce: text('nonce'),
});

export const refreshTokenRows = rowMapping<RefreshToken, Database['refresh_tokens']>()({
  ...handleColumns,
  tokenHash: text('token_hash'),
  absoluteExpiresAt: integer('absolute_expires_at'),
});

export const signingKeyRows = rowMapping<SigningKeyRecord, Database['signing_keys']>()({
  kid: text('kid'),
  alg: text('alg'),
  privateJwk: text('private_jwk'),
  publicJwk: text('public_jwk'),
  createdAt: integer('created_at'),
  notBefore: integer('not_before'),
  retiredAt: integerOrNull('retired_at'),
  expiresAt: integerOrNull('expires_at'),
});

/** The columns of the polled tables (device codes, CIBA requests) that both have. */
const polledColumns = {
  clientId: text('client_id'),
  scope: list('scope'),
  resources: list('resources'),
  interval: integer('interval'),
  expiresAt: integer('expires_at'),
  lastPolledAt: integerOrNull('last_polled_at'),
  status: textOf('status'),
  userId: text('user_id'),
  authTime: integerOrNull('auth_time'),
  amr: nullableList('amr'),
  sid: text('sid'),
  createdAt: integer('created_at'),
} satisfies Columns<
  PolledAuthorization & { createdAt: number },
  Database['device_codes'] & Database['backchannel_requests']
>;

export const deviceCodeRows = rowMapping<DeviceCode, Database['device_codes']>()({
  ...polledColumns,
  deviceCodeHash: text('device_code_hash'),
  userCode: text('user_code'),
});

export const backchannelRequestRows = rowMapping<
  BackchannelAuthenticationRequest,
  Database['backchannel_requests']
>()({
  ...polledColumns,
  authReqIdHash: text('auth_req_id_hash'),
  approvalHash: text('approval_hash'),
  hintedUserId: text('hinted_user_id'),
  acrValues: list('acr_values'),
  bindingMessage: text('binding_message'),
  deliveryMode: either('delivery_mode', 'ping', 'poll'),
  clientNotificationToken: text('client_notification_token'),
  pingAuthReqId: text('ping_auth_req_id'),
});

export const accessTokenRows = rowMapping<OpaqueAccessToken, Database['access_tokens']>()({
  tokenHash: text('token_hash'),
  jti: text('jti'),
  grantId: text('grant_id'),
  clientId: text('client_id'),
  subject: text('subject'),
  scope: text('scope'),
  audience: list('audience'),
  authTime: integerOrNull('auth_time'),
  roles: nullableList('roles'),
  expiresAt: integer('expires_at'),
  createdAt: integer('created_at'),
  cnf: nullableJson('cnf'),
  claims: optionalJson('claims'),
});

export function pushedRequestToRow(
  request: PushedAuthorizationRequest,
): Database['pushed_authorization_requests'] {
  return {
    request_uri_hash: request.requestUriHash,
    client_id: request.clientId,
    parameters: json(request.parameters),
    expires_at: request.expiresAt,
    consumed_at: null,
    created_at: request.createdAt,
  };
}
