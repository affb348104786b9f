/**
 * The domain model: clients, users, sessions, authorization requests and what is issued from them. Every
 * layer (storage, protocol, tokens, grants, endpoints) takes these types from here; none of them depends
 * on how or where they are stored.
 */

/**
 * Client authentication methods (RFC 6749 §2.3.1, RFC 7523 §2.2 `private_key_jwt`, RFC 8705 §2 mutual TLS).
 * The `client_secret_*` methods are the ones with a shared secret.
 */
export const clientAuthMethods = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
] as const;
export type ClientAuthMethod = (typeof clientAuthMethods)[number];

/** The longest an access token may live, per client, API or default (storage and keys rely on it). */
export const maxAccessTokenTtl = 900;

/**
 * A registered client (RFC 6749 §2, RFC 7591 §2 metadata), from the config file, the CLI or dynamic
 * registration (RFC 7591 §3, `source: 'registration'`).
 */
export interface Client {
  clientId: string;
  name: string;
  /**
   * The client's secrets as SHA-256 hashes, newest first: at most two, so a rotated secret can keep
   * working for an overlap while the client is updated (protocol/client-secrets.ts). Empty when the
   * client authenticates otherwise.
   */
  secrets: ClientSecret[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  requireConsent: boolean;
  accessTokenTtl: number | null;
  /** `metadata-document`: described by a client ID metadata document, never stored (protocol/client-metadata-document.ts). */
  source: 'config' | 'cli' | 'registration' | 'metadata-document';
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
  /** This client's refresh-token lifetimes; null members follow `tokens.refreshTokenTtl` and `refreshTokenIdleTtl`. */
  refreshTokenLifetime: RefreshTokenLifetime;
  /** CIBA Core §4: how a client registered for the CIBA grant learns its tokens are ready; absent: none. */
  backchannelAuthentication?: BackchannelClientSettings | null;
  /** Every sign-in for this client needs a second factor (sessions/mfa.ts); absent: false. */
  requireMfa?: boolean;
  /**
   * Ids of the configured upstream providers (config `upstreams`) the sign-in page offers for this client,
   * in that order (sessions/upstream-providers.ts); absent: none.
   */
  upstreams?: string[];
  /**
   * When an operator disabled the client (epoch seconds); absent while it may be used. A disabled client
   * cannot authenticate, start an authorization, or use its tokens (admin/clients.ts).
   */
  disabledAt?: number;
}

/** CIBA Core §4 client metadata (push mode is not offered: FAPI-CIBA forbids it). */
export interface BackchannelClientSettings {
  /** `backchannel_token_delivery_mode`. */
  tokenDeliveryMode: 'poll' | 'ping';
  /** `backchannel_client_notification_endpoint`: where pings go (ping mode only). */
  clientNotificationEndpoint: string | null;
}

/** The most clients hold at once: the current secret and, during an overlap, the one it replaced. */
export const maxClientSecrets = 2;

/** One client secret: its SHA-256 hash and when it stops working (seconds since the epoch; null: never). */
export interface ClientSecret {
  hash: string;
  expiresAt: number | null;
}

/**
 * Refresh-token lifetimes in seconds (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): `absolute` counts from the
 * authorization and never grows; `idle` is how long a token may go unused, restarted by every use.
 */
export interface RefreshTokenLifetime {
  absolute: number | null;
  idle: number | null;
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

/** A local account; `claims` are the OIDC Core §5.1 claims released about it. */
export interface User {
  id: string;
  username: string;
  passwordHash: string;
  claims: Record<string, unknown>;
  roles: string[];
  /** When the account was disabled (it cannot sign in, refresh or use userinfo), or null. */
  disabledAt: number | null;
}

/** A browser login session; `sid` is the OIDC session id (Front/Back-Channel Logout). */
export interface LoginSession {
  sid: string;
  userId: string;
  authTime: number;
  amr: string[];
  expiresAt: number;
  /** The upstream sign-in that started the session, when one did (sessions/upstream.ts). */
  upstream?: UpstreamAuthentication | undefined;
}

/**
 * How the user signed in at an upstream provider, as its ID token said (OpenID Connect Core §2 `amr`, `acr`):
 * kept whether or not the provider is trusted for MFA; only a trusted one's methods count locally.
 */
export interface UpstreamAuthentication {
  /** The configured upstream's id. */
  id: string;
  amr: string[];
  acr: string | null;
}

/** A pending login or consent step of one authorization request, bound to the browser that started it. */
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
  /** OpenID Connect Core §3.1.2.1: the `sub` of the request's id_token_hint; only that user's session counts. */
  idTokenHintSub?: string | undefined;
  /** RFC 9449 §10: the thumbprint of the DPoP key the authorization code is bound to. */
  dpopJkt?: string | undefined;
  /** OpenID Connect Core §3.1.2.1 `ui_locales`: the languages the pages should use, preferred first. */
  uiLocales?: string[] | undefined;
  /** OpenID Connect Core §5.5: the `claims` request parameter, validated (protocol/claims-request.ts). */
  claimsRequest?: ClaimsParameter | undefined;
  /** `idp`: the upstream provider (config `upstreams[].id`) to sign in with, skipping the chooser. */
  idp?: string | undefined;
  /**
   * OpenID Connect Core §3.1.2.1 `acr_values` and an essential `acr` of the claims parameter (§5.5.1.1):
   * the authentication level the session must reach (protocol/acr.ts); absent: what policy says.
   */
  requiredAcr?: AcrLevel | undefined;
}

/** Authentication levels, weakest first: a password alone, or a password and a second factor. */
export const acrLevels = ['pwd', 'mfa'] as const;
export type AcrLevel = (typeof acrLevels)[number];

/**
 * An account's TOTP factor (RFC 6238): the confirmed shared secret and the last time step accepted (so a
 * code is used once), and a secret being enrolled that a first code has not confirmed yet. Secrets are
 * sealed when `keys.encryptionSecrets` is set (sessions/mfa.ts).
 */
export interface TotpFactor {
  userId: string;
  secret: string | null;
  confirmedAt: number | null;
  lastUsedStep: number | null;
  pendingSecret: string | null;
  createdAt: number;
}

/**
 * A WebAuthn public key credential of an account (a passkey or a security key; sessions/webauthn.ts), by
 * its credential id (base64url). `counter` is the last signature counter seen (WebAuthn §6.1.1); the
 * backup flags are the authenticator data's BE and BS bits (§6.1).
 */
export interface WebAuthnCredentialRecord {
  credentialId: string;
  userId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  counter: number;
  /** The transports the browser reported at registration (`usb`, `internal`, `hybrid`, ...). */
  transports: string[];
  backupEligible: boolean;
  backupState: boolean;
  /** Whether the credential is discoverable (a passkey), as far as the browser reported it. */
  discoverable: boolean;
  nickname: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/**
 * A WebAuthn challenge handed to one browser (WebAuthn §13.4.3): stored by its hash, bound to what it was
 * issued for (`binding`: an interaction or a session), taken once.
 */
export interface WebAuthnChallenge {
  challengeHash: string;
  purpose: 'registration' | 'authentication';
  binding: string;
  /** The account the ceremony is for; null for a passkey-first sign-in (any discoverable credential). */
  userId: string | null;
  expiresAt: number;
}

/** How one claim is asked for in the `claims` parameter (OpenID Connect Core §5.5.1); null: by name only. */
export interface ClaimRequestDetails {
  essential?: boolean;
  value?: unknown;
  values?: unknown[];
}

/**
 * The OpenID Connect `claims` request parameter (Core §5.5): claims asked for one by one, for the ID token
 * and for userinfo. Kept with the authorization and everything issued from it.
 */
export interface ClaimsParameter {
  userinfo?: Record<string, ClaimRequestDetails | null>;
  id_token?: Record<string, ClaimRequestDetails | null>;
}

/**
 * Claims of an access token that configuration (`apiResources[].claims`) and the claims hook may not set:
 * the token's identity, lifetime, audience, scope, binding and delegation are Gatehouse's to state
 * (RFC 9068 §2.2, RFC 7800, RFC 8693 §4). `roles` is reserved too: it comes from the account, through
 * `claims.roles` (config/resources.ts).
 */
export const reservedAccessTokenClaims: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'azp',
  'cnf',
  'scope',
  'scp',
  'act',
  'may_act',
  'auth_time',
  'acr',
  'amr',
  'sid',
  'grant_id',
  'roles',
]);

/** One authorization: everything issued from it carries its id and dies when it is revoked. */
export interface Grant {
  id: string;
  clientId: string;
  userId: string | null;
  sid: string | null;
  scopes: string[];
  resources: string[];
  createdAt: number;
  revokedAt: number | null;
  /** OpenID Connect Core §5.5: the `claims` request of the authorization, for userinfo; null when none. */
  claimsRequest?: ClaimsParameter | null;
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
  /** OpenID Connect Core §5.5: the `claims` request of the authorization (ID tokens on refresh too). */
  claimsRequest?: ClaimsParameter | null;
}

export interface AuthorizationCode extends IssuedHandle {
  codeHash: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | null;
}

/**
 * `expiresAt` is when this token stops working: its idle expiry (now + idle at issue or last use), never
 * later than `absoluteExpiresAt`, the end of the whole family counted from the authorization.
 */
export interface RefreshToken extends IssuedHandle {
  tokenHash: string;
  absoluteExpiresAt: number;
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

/**
 * What a user decides on away from the client and the client then polls for: a device code (RFC 8628) or
 * a CIBA request. grants/polled-grant.ts redeems either.
 */
export type PolledAuthorization = Pick<
  DeviceCode,
  | 'clientId'
  | 'scope'
  | 'resources'
  | 'interval'
  | 'expiresAt'
  | 'lastPolledAt'
  | 'status'
  | 'userId'
  | 'authTime'
  | 'amr'
  | 'sid'
>;

/**
 * A CIBA authentication request (CIBA Core §7): for the user the hint named (`hintedUserId`), pending
 * until that user approves or denies it on the approval page the notifier's link opens. Hashes of
 * `auth_req_id` and of the link's token find it. The client's notification token is kept as sent, since
 * it is sent back as a bearer token on the ping (§10.2); so is a ping-mode request's `auth_req_id`, which
 * the ping carries, until the ping is sent (it is useless without the client's own credentials).
 */
export interface BackchannelAuthenticationRequest extends PolledAuthorization {
  authReqIdHash: string;
  approvalHash: string;
  hintedUserId: string;
  acrValues: string[];
  bindingMessage: string | null;
  deliveryMode: 'poll' | 'ping';
  clientNotificationToken: string | null;
  pingAuthReqId: string | null;
  createdAt: number;
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
  /**
   * The other claims of the token (`apiResources[].claims`, the claims hook, `scp`), stored as issued so
   * introspection describes it as a JWT would be; null when there are none.
   */
  claims?: Record<string, unknown> | null;
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

/** A stored signing key; `privateJwk` may be sealed (keys/key-encryption.ts). */
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
