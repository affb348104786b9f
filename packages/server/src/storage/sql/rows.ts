/**
 * How each model type is stored as a row, and read back; the same on SQLite and PostgreSQL: lists and
 * objects are JSON text, booleans 0/1 integers, times integer seconds. The repositories beside this file
 * hold only their statements.
 */
import type {
  AuthorizationCode,
  AuthorizationRequestRecord,
  BackchannelAuthenticationRequest,
  BackchannelClientSettings,
  ClaimsParameter,
  Client,
  ClientAuthentication,
  ClientSecret,
  DeviceCode,
  DeviceCodeStatus,
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
  UpstreamAuthentication,
  User,
} from '../../model.ts';
import type { Database, IssuedHandleColumns, PolledAuthorizationColumns } from '../schema.ts';
import { json, jsonOrNull, listOrNull, numberOrNull, parseList } from './db.ts';

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

export function userFromRow(row: Database['users']): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    claims: JSON.parse(row.claims) as Record<string, unknown>,
    roles: parseList(row.roles),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
  };
}

export function userToRow(user: User, now: number): Database['users'] {
  return {
    id: user.id,
    username: user.username,
    password_hash: user.passwordHash,
    claims: json(user.claims),
    roles: json(user.roles),
    created_at: now,
    updated_at: now,
    disabled_at: user.disabledAt,
  };
}

export function sessionFromRow(row: Database['sessions']): LoginSession {
  return {
    sid: row.sid,
    userId: row.user_id,
    authTime: Number(row.auth_time),
    amr: parseList(row.amr),
    expiresAt: Number(row.expires_at),
    ...(row.upstream === null ? {} : { upstream: JSON.parse(row.upstream) as UpstreamAuthentication }),
  };
}

export function sessionToRow(idHash: string, session: LoginSession, now: number): Database['sessions'] {
  return {
    id_hash: idHash,
    sid: session.sid,
    user_id: session.userId,
    auth_time: session.authTime,
    amr: json(session.amr),
    expires_at: session.expiresAt,
    created_at: now,
    ended_at: null,
    upstream: session.upstream === undefined ? null : json(session.upstream),
  };
}

export function interactionFromRow(row: Database['interactions']): Interaction {
  return {
    id: row.id,
    csrfToken: row.csrf_token,
    browserHash: row.browser_hash,
    clientId: row.client_id,
    request: JSON.parse(row.request) as AuthorizationRequestRecord,
    sessionSid: row.session_sid,
    expiresAt: Number(row.expires_at),
    completedAt: numberOrNull(row.completed_at),
  };
}

export function interactionToRow(interaction: Interaction, now: number): Database['interactions'] {
  return {
    id: interaction.id,
    csrf_token: interaction.csrfToken,
    browser_hash: interaction.browserHash,
    client_id: interaction.clientId,
    request: json(interaction.request),
    session_sid: interaction.sessionSid,
    expires_at: interaction.expiresAt,
    created_at: now,
    completed_at: null,
  };
}

export function grantFromRow(row: Database['grants']): Grant {
  return {
    id: row.id,
    clientId: row.client_id,
    userId: row.user_id,
    sid: row.sid,
    scopes: parseList(row.scopes),
    resources: parseList(row.resources),
    createdAt: Number(row.created_at),
    revokedAt: numberOrNull(row.revoked_at),
    ...claimsRequestFromColumn(row.claims_request),
  };
}

/** The `claims_request` column (JSON or null): the `claimsRequest` field, left out when there is none. */
function claimsRequestFromColumn(column: string | null | undefined): { claimsRequest?: ClaimsParameter } {
  return column === null || column === undefined
    ? {}
    : { claimsRequest: JSON.parse(column) as ClaimsParameter };
}

export function grantToRow(grant: Grant): Database['grants'] {
  return {
    id: grant.id,
    client_id: grant.clientId,
    user_id: grant.userId,
    sid: grant.sid,
    scopes: json(grant.scopes),
    resources: json(grant.resources),
    created_at: grant.createdAt,
    revoked_at: grant.revokedAt,
    claims_request: jsonOrNull(grant.claimsRequest ?? null),
  };
}

/** The columns authorization codes and refresh tokens share. */
function handleFromRow(row: IssuedHandleColumns): IssuedHandle {
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
    consumedAt: numberOrNull(row.consumed_at),
    createdAt: Number(row.created_at),
    dpopJkt: row.dpop_jkt,
    ...claimsRequestFromColumn(row.claims_request),
  };
}

function handleToRow(handle: IssuedHandle): IssuedHandleColumns {
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
    claims_request: jsonOrNull(handle.claimsRequest ?? null),
  };
}

export function codeFromRow(row: Database['authorization_codes']): AuthorizationCode {
  return {
    ...handleFromRow(row),
    codeHash: row.code_hash,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    nonce: row.nonce,
  };
}

export function codeToRow(code: AuthorizationCode): Database['authorization_codes'] {
  return {
    ...handleToRow(code),
    code_hash: code.codeHash,
    redirect_uri: code.redirectUri,
    code_challenge: code.codeChallenge,
    nonce: code.nonce,
  };
}

export function refreshTokenFromRow(row: Database['refresh_tokens']): RefreshToken {
  return {
    ...handleFromRow(row),
    tokenHash: row.token_hash,
    absoluteExpiresAt: Number(row.absolute_expires_at),
  };
}

export function refreshTokenToRow(token: RefreshToken): Database['refresh_tokens'] {
  return { ...handleToRow(token), token_hash: token.tokenHash, absolute_expires_at: token.absoluteExpiresAt };
}

export function signingKeyFromRow(row: Database['signing_keys']): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    privateJwk: row.private_jwk,
    publicJwk: row.public_jwk,
    createdAt: Number(row.created_at),
    notBefore: Number(row.not_before),
    retiredAt: numberOrNull(row.retired_at),
    expiresAt: numberOrNull(row.expires_at),
  };
}

export function signingKeyToRow(key: SigningKeyRecord): Database['signing_keys'] {
  return {
    kid: key.kid,
    alg: key.alg,
    private_jwk: key.privateJwk,
    public_jwk: key.publicJwk,
    created_at: key.createdAt,
    not_before: key.notBefore,
    retired_at: key.retiredAt,
    expires_at: key.expiresAt,
  };
}

function polledFromRow(row: PolledAuthorizationColumns): PolledAuthorization & { createdAt: number } {
  return {
    clientId: row.client_id,
    scope: parseList(row.scope),
    resources: parseList(row.resources),
    interval: row.interval,
    expiresAt: Number(row.expires_at),
    lastPolledAt: numberOrNull(row.last_polled_at),
    status: row.status as DeviceCodeStatus,
    userId: row.user_id,
    authTime: numberOrNull(row.auth_time),
    amr: listOrNull(row.amr),
    sid: row.sid,
    createdAt: Number(row.created_at),
  };
}

function polledToRow(value: PolledAuthorization & { createdAt: number }): PolledAuthorizationColumns {
  return {
    client_id: value.clientId,
    scope: json(value.scope),
    resources: json(value.resources),
    interval: value.interval,
    expires_at: value.expiresAt,
    last_polled_at: value.lastPolledAt,
    status: value.status,
    user_id: value.userId,
    auth_time: value.authTime,
    amr: jsonOrNull(value.amr),
    sid: value.sid,
    created_at: value.createdAt,
  };
}

export function deviceCodeFromRow(row: Database['device_codes']): DeviceCode {
  return { ...polledFromRow(row), deviceCodeHash: row.device_code_hash, userCode: row.user_code };
}
export function deviceCodeToRow(code: DeviceCode): Database['device_codes'] {
  return { ...polledToRow(code), device_code_hash: code.deviceCodeHash, user_code: code.userCode };
}
export function backchannelRequestFromRow(
  row: Database['backchannel_requests'],
): BackchannelAuthenticationRequest {
  return {
    ...polledFromRow(row),
    authReqIdHash: row.auth_req_id_hash,
    approvalHash: row.approval_hash,
    hintedUserId: row.hinted_user_id,
    acrValues: parseList(row.acr_values),
    bindingMessage: row.binding_message,
    deliveryMode: row.delivery_mode === 'ping' ? 'ping' : 'poll',
    clientNotificationToken: row.client_notification_token,
    pingAuthReqId: row.ping_auth_req_id,
  };
}
export function backchannelRequestToRow(
  request: BackchannelAuthenticationRequest,
): Database['backchannel_requests'] {
  return {
    ...polledToRow(request),
    auth_req_id_hash: request.authReqIdHash,
    approval_hash: request.approvalHash,
    hinted_user_id: request.hintedUserId,
    acr_values: json(request.acrValues),
    binding_message: request.bindingMessage,
    delivery_mode: request.deliveryMode,
    client_notification_token: request.clientNotificationToken,
    ping_auth_req_id: request.pingAuthReqId,
  };
}
export function accessTokenFromRow(row: Database['access_tokens']): OpaqueAccessToken {
  return {
    tokenHash: row.token_hash,
    jti: row.jti,
    grantId: row.grant_id,
    clientId: row.client_id,
    subject: row.subject,
    scope: row.scope,
    audience: parseList(row.audience),
    authTime: numberOrNull(row.auth_time),
    roles: listOrNull(row.roles),
    expiresAt: Number(row.expires_at),
    createdAt: Number(row.created_at),
    cnf: row.cnf === null ? null : (JSON.parse(row.cnf) as Record<string, string>),
    ...(row.claims === null || row.claims === undefined
      ? {}
      : { claims: JSON.parse(row.claims) as Record<string, unknown> }),
  };
}

export function accessTokenToRow(token: OpaqueAccessToken): Database['access_tokens'] {
  return {
    token_hash: token.tokenHash,
    jti: token.jti,
    grant_id: token.grantId,
    client_id: token.clientId,
    subject: token.subject,
    scope: token.scope,
    audience: json(token.audience),
    auth_time: token.authTime,
    roles: jsonOrNull(token.roles),
    expires_at: token.expiresAt,
    created_at: token.createdAt,
    cnf: jsonOrNull(token.cnf),
    claims: jsonOrNull(token.claims ?? null),
  };
}

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
