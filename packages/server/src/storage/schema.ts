/**
 * Table types for Kysely. Times are integer seconds since the epoch; lists and objects are JSON text.
 * The same shapes serve SQLite and PostgreSQL: nothing here is dialect specific (PostgreSQL's int8 columns
 * are parsed as numbers by the pool, see postgres.ts).
 */
import type { Generated } from 'kysely';

export interface ClientsTable {
  client_id: string;
  name: string;
  /**
   * No longer read: the newest secret's hash, kept in step with `secrets` for nodes still running a
   * release from before secrets could overlap (migration 0012).
   */
  secret_hash: string | null;
  /** model.ts ClientSecret[] as JSON: `[{ hash, expiresAt }]`, newest first. */
  secrets: string;
  token_endpoint_auth_method: string;
  grant_types: string;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  scopes: string;
  require_consent: number;
  access_token_ttl: number | null;
  source: string;
  created_at: number;
  backchannel_logout_uri: string | null;
  cors_origins: string;
  require_dpop: number;
  require_par: number;
  /** 1: every sign-in for the client needs a second factor (migration 0013). */
  require_mfa: number;
  authentication: string;
  token_exchange: string | null;
  profile: string | null;
  /** model.ts RefreshTokenLifetime as JSON, or null when both follow the server's defaults. */
  refresh_token_lifetime: string | null;
  /** model.ts BackchannelClientSettings as JSON, or null for a client without CIBA (migration 0014). */
  backchannel_authentication?: string | null;
  /** SHA-256 of a registered client's RFC 7592 registration access token; null for other clients. */
  registration_access_token_hash: string | null;
  /** Ids of the upstream providers the client offers, as a JSON list (migration 0024). */
  upstreams: string;
  /** When an operator disabled the client (migration 0019); null while it may be used. */
  disabled_at?: number | null;
}

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  claims: string;
  roles: string;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
}

export interface SessionsTable {
  id_hash: string;
  sid: string;
  user_id: string;
  auth_time: number;
  amr: string;
  expires_at: number;
  created_at: number;
  ended_at: number | null;
  /** The upstream sign-in that started the session (JSON: id, amr, acr), or null (migration 0021). */
  upstream: string | null;
}

export interface InteractionsTable {
  id: string;
  csrf_token: string;
  browser_hash: string;
  client_id: string;
  request: string;
  session_sid: string | null;
  expires_at: number;
  created_at: number;
  completed_at: number | null;
}

export interface ConsentsTable {
  user_id: string;
  client_id: string;
  scopes: string;
  updated_at: number;
}

export interface GrantsTable {
  id: string;
  client_id: string;
  user_id: string | null;
  sid: string | null;
  scopes: string;
  resources: string;
  created_at: number;
  revoked_at: number | null;
  /** OpenID Connect Core §5.5 `claims` request as JSON (model.ts ClaimsParameter), or null. */
  claims_request: string | null;
}

/** The columns authorization codes and refresh tokens share (model.ts IssuedHandle). */
export interface IssuedHandleColumns {
  grant_id: string;
  client_id: string;
  user_id: string;
  scope: string;
  resources: string;
  auth_time: number;
  amr: string;
  sid: string;
  expires_at: number;
  consumed_at: number | null;
  created_at: number;
  dpop_jkt: string | null;
  /** OpenID Connect Core §5.5 `claims` request as JSON (model.ts ClaimsParameter), or null. */
  claims_request: string | null;
}

export interface AuthorizationCodesTable extends IssuedHandleColumns {
  code_hash: string;
  redirect_uri: string;
  code_challenge: string;
  nonce: string | null;
}

export interface RefreshTokensTable extends IssuedHandleColumns {
  token_hash: string;
  /** The family's absolute expiry; `expires_at` is the token's own (idle) expiry, never later. */
  absolute_expires_at: number;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  not_before: number;
  retired_at: number | null;
  expires_at: number | null;
}

/** The columns of what a user decides on away from the client, polled for by it (device codes, CIBA). */
export interface PolledAuthorizationColumns {
  client_id: string;
  scope: string;
  resources: string;
  interval: number;
  expires_at: number;
  last_polled_at: number | null;
  status: string;
  user_id: string | null;
  auth_time: number | null;
  amr: string | null;
  sid: string | null;
  created_at: number;
}

export interface DeviceCodesTable extends PolledAuthorizationColumns {
  device_code_hash: string;
  user_code: string;
}

/** CIBA Core §7 authentication requests (migration 0014). */
export interface BackchannelRequestsTable extends PolledAuthorizationColumns {
  auth_req_id_hash: string;
  approval_hash: string;
  hinted_user_id: string;
  acr_values: string;
  binding_message: string | null;
  delivery_mode: string;
  client_notification_token: string | null;
  ping_auth_req_id: string | null;
}

export interface AccessTokensTable {
  token_hash: string;
  jti: string;
  grant_id: string | null;
  client_id: string;
  subject: string;
  scope: string;
  audience: string;
  auth_time: number | null;
  roles: string | null;
  expires_at: number;
  created_at: number;
  /** RFC 7800 `cnf` as JSON, for tokens bound to a key (RFC 9449 §6, RFC 8705 §3). */
  cnf: string | null;
  /** The token's other claims as JSON (configured, computed, `scp`), or null. */
  claims: string | null;
}

export interface PushedAuthorizationRequestsTable {
  request_uri_hash: string;
  client_id: string;
  /** The pushed parameters as JSON (name to list of values). */
  parameters: string;
  expires_at: number;
  consumed_at: number | null;
  created_at: number;
}

export interface RevokedTokensTable {
  jti: string;
  expires_at: number;
}

/** Browsers that signed in to an account (sessions/login.ts), by the SHA-256 of their browser cookie. */
export interface KnownBrowsersTable {
  browser_hash: string;
  user_id: string;
  expires_at: number;
  created_at: number;
}

/** Which local account an upstream provider's `sub` signs in as (sessions/upstream.ts), one row per identity. */
export interface UpstreamIdentitiesTable {
  upstream_id: string;
  upstream_subject: string;
  user_id: string;
  created_at: number;
}

/**
 * A sign-in sent to an upstream provider and not yet back: found by the SHA-256 of its `state`, bound to the
 * interaction it signs in for, taken once.
 */
export interface UpstreamLoginsTable {
  state_hash: string;
  upstream_id: string;
  interaction_id: string;
  nonce: string;
  code_verifier: string;
  redirect_uri: string;
  expires_at: number;
  created_at: number;
}

/**
 * An upstream identity waiting to be linked to an existing account once the user proves control of it
 * (migration 0021): one per interaction, taken once; `proven_user_id` is set after the password when the
 * account's second factor is still to come.
 */
export interface UpstreamPendingLinksTable {
  interaction_id: string;
  upstream_id: string;
  upstream_subject: string;
  upstream_sid: string | null;
  /** The upstream's `amr` (JSON list) and `acr`, as its ID token said. */
  upstream_amr: string;
  upstream_acr: string | null;
  /** The account offered because the upstream verified its e-mail address (trusted provider only). */
  offered_user_id: string | null;
  proven_user_id: string | null;
  expires_at: number;
  created_at: number;
}

/**
 * A local session started by an upstream sign-in (migration 0022): the upstream `sub` and `sid` its
 * back-channel logout tokens name, and the upstream ID token, sealed, for logout at the upstream.
 */
export interface UpstreamSessionsTable {
  sid: string;
  upstream_id: string;
  upstream_subject: string;
  upstream_sid: string | null;
  id_token: string | null;
  expires_at: number;
  created_at: number;
}

/** An account's TOTP factor (RFC 6238), one row per account (migration 0013). */
export interface MfaTotpTable {
  user_id: string;
  /** The confirmed shared secret; sealed (keys/key-encryption.ts) when `keys.encryptionSecrets` is set. */
  secret: string | null;
  confirmed_at: number | null;
  /** The last RFC 6238 time step accepted: codes of it and earlier steps are refused. */
  last_used_step: number | null;
  /** A secret being enrolled, until a first code confirms it. */
  pending_secret: string | null;
  created_at: number;
}

/** An account's recovery codes, as SHA-256 hashes; `used_at` is set once (migration 0013). */
export interface MfaRecoveryCodesTable {
  user_id: string;
  code_hash: string;
  used_at: number | null;
  created_at: number;
}

/** API scopes added over the admin API (migration 0025). */
export interface ApiScopesTable {
  name: string;
  description: string;
  created_at: number;
}

/** API resources added over the admin API (migration 0025): the file's fields as JSON, without a secret. */
export interface ApiResourcesTable {
  id: string;
  definition: string;
  secret_hash: string | null;
  created_at: number;
}

/** One row per cached topic (`clients`, `revocations`, `catalog`), bumped with every write to it (postgres.ts). */
export interface ChangesTable {
  topic: string;
  version: number;
}

/** WebAuthn credentials (migration 0018); `transports` is a space-separated list. */
export interface WebAuthnCredentialsTable {
  credential_id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string;
  backup_eligible: number;
  backup_state: number;
  discoverable: number;
  nickname: string;
  created_at: number;
  last_used_at: number | null;
}

/** WebAuthn challenges of ceremonies under way, by their SHA-256 hash (migration 0018). */
export interface WebAuthnChallengesTable {
  challenge_hash: string;
  purpose: string;
  binding: string;
  user_id: string | null;
  expires_at: number;
  created_at: number;
}

export interface MigrationsTable {
  name: string;
  applied_at: number;
  id: Generated<number>;
}

export interface Database {
  clients: ClientsTable;
  users: UsersTable;
  sessions: SessionsTable;
  interactions: InteractionsTable;
  consents: ConsentsTable;
  grants: GrantsTable;
  authorization_codes: AuthorizationCodesTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  device_codes: DeviceCodesTable;
  backchannel_requests: BackchannelRequestsTable;
  access_tokens: AccessTokensTable;
  revoked_tokens: RevokedTokensTable;
  pushed_authorization_requests: PushedAuthorizationRequestsTable;
  known_browsers: KnownBrowsersTable;
  upstream_identities: UpstreamIdentitiesTable;
  upstream_logins: UpstreamLoginsTable;
  upstream_pending_links: UpstreamPendingLinksTable;
  upstream_sessions: UpstreamSessionsTable;
  mfa_totp: MfaTotpTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  webauthn_credentials: WebAuthnCredentialsTable;
  webauthn_challenges: WebAuthnChallengesTable;
  gatehouse_changes: ChangesTable;
  api_scopes: ApiScopesTable;
  api_resources: ApiResourcesTable;
}
