/**
 * What the core (endpoints, grants, protocol, tokens, sessions) is given, built once at start-up by the
 * composition root (server.ts) and passed down explicitly (no globals), so tests can build a server with
 * their own clock and store. It holds interfaces and config-derived values; the HTTP adapter's own parts
 * (CORS, metrics, readiness checks) are not in it.
 */
import type { AccountStore } from './accounts/accounts.ts';
import type { GatehouseConfig } from './config/schema.ts';
import type { KeyStore } from './keys/keystore.ts';
import type { Client } from './model.ts';
import type { BackchannelNotifier } from './protocol/backchannel-notification.ts';
import type { ClientJwksCache } from './protocol/client-jwks.ts';
import type { DpopVerifier } from './protocol/dpop.ts';
import type { ReplayCache } from './protocol/replay-cache.ts';
import type { RetriedDeliveries } from './protocol/retried-delivery.ts';
import type { ScopeCatalog } from './protocol/scopes.ts';
import type { SessionLogout } from './sessions/logout.ts';
import type { UpstreamProviders } from './sessions/upstream-providers.ts';
import type { Storage } from './storage/ports.ts';
import type { ClaimsHook } from './tokens/claims-hook.ts';
import type { Ui } from './views/templates.ts';

/** Seconds since the epoch; tests substitute a controllable clock. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);

/** Flat scalar fields of an audit event: ids and outcomes, never secrets, passwords, codes or tokens. */
export type AuditFields = Record<string, string | number | boolean | undefined | null>;

/**
 * Records one security-relevant event under a stable name (login_succeeded, token_issued,
 * refresh_token_reused, client_authentication_failed, ...). A request's context has an audit that adds
 * the request's id to every event (`requestContext`).
 */
export type Audit = (event: string, fields?: AuditFields) => void;

type Limits = GatehouseConfig['rateLimits'];
/** The names of the `rateLimits` config entries that are request limits (a `limit` per `window`). */
export type RateLimitRule = {
  [K in keyof Limits]: Limits[K] extends { limit: number; window: number } ? K : never;
}[keyof Limits];

/** Request limits and failure counters, per key (an IP, a client id, a username). */
export interface RateLimits {
  /** Counts one request for `key` under `rule`; throws a 429 OAuthError when the limit is exceeded. */
  hit(rule: RateLimitRule, key: string): Promise<void>;
  /** Seconds the key is still locked after repeated failures (0 when it is not). */
  lockedSeconds(key: string): Promise<number>;
  /**
   * Records a failure for `key` and returns the count. After `freeFailures`, each failure locks the key
   * for a delay that doubles (1 s, 2 s, 4 s, ...) up to `maxDelay`; counts are forgotten `maxDelay`
   * seconds after the last failure.
   */
  countFailure(key: string, freeFailures: number, maxDelay: number): Promise<number>;
  forgetFailures(key: string): Promise<void>;
}

export interface Endpoints {
  authorization: string;
  pushedAuthorizationRequest: string;
  token: string;
  userinfo: string;
  jwks: string;
  introspection: string;
  revocation: string;
  deviceAuthorization: string;
  deviceVerification: string;
  endSession: string;
  /** CIBA Core §7: the backchannel authentication endpoint, and the approval page the notifier links to. */
  backchannelAuthentication: string;
  backchannelApproval: string;
  /** RFC 7591 §3: dynamic client registration (served only when `registration.enabled`). */
  registration: string;
}

export interface ServerContext {
  config: GatehouseConfig;
  issuer: string;
  endpoints: Endpoints;
  storage: Storage;
  /** Who can sign in and what is said about them (accounts/accounts.ts). */
  accounts: AccountStore;
  keys: KeyStore;
  catalog: ScopeCatalog;
  now: Clock;
  audit: Audit;
  /** The audit whose events carry `requestId`. */
  auditFor(requestId: string): Audit;
  rateLimits: RateLimits;
  /** jti replay protection for DPoP proofs and client assertions (memory, or Redis when configured). */
  replay: ReplayCache;
  /** DPoP proof verification and server nonces (RFC 9449), with the `dpop` settings of the config. */
  dpop: DpopVerifier;
  logout: SessionLogout;
  findClient(clientId: string): Promise<Client | undefined>;
  /** Client JWKS fetched from jwks_uri (private_key_jwt, self-signed mutual TLS). */
  clientJwks: ClientJwksCache;
  /** The upstream identity providers (config `upstreams`; sessions/upstream.ts). */
  upstreams: UpstreamProviders;
  /** The pages: templates, theme and translations (views/templates.ts). */
  ui: Ui;
  /** The embedding application's computed access-token claims, guarded (tokens/claims-hook.ts). */
  claimsHook?: ClaimsHook | undefined;
  /** How CIBA requests reach users (protocol/backchannel-authentication.ts); none: CIBA is off. */
  backchannelNotifier?: BackchannelNotifier | undefined;
  /** CIBA pings to ping-mode clients, retried in the background (CIBA Core §10.2). */
  cibaPings: RetriedDeliveries;
}

/** The context of one request: the same parts, with an audit whose events carry the request's id. */
export function requestContext(ctx: ServerContext, requestId: string): ServerContext {
  return { ...ctx, audit: ctx.auditFor(requestId) };
}

export function endpointsFor(issuer: string): Endpoints {
  return {
    authorization: `${issuer}/authorize`,
    pushedAuthorizationRequest: `${issuer}/par`,
    token: `${issuer}/token`,
    userinfo: `${issuer}/userinfo`,
    jwks: `${issuer}/jwks`,
    introspection: `${issuer}/introspect`,
    revocation: `${issuer}/revoke`,
    deviceAuthorization: `${issuer}/device_authorization`,
    deviceVerification: `${issuer}/device`,
    endSession: `${issuer}/end_session`,
    backchannelAuthentication: `${issuer}/bc-authorize`,
    backchannelApproval: `${issuer}/bc-approve`,
    registration: `${issuer}/register`,
  };
}
