/**
 * Everything a request handler needs, built once at start-up and passed down explicitly (no globals),
 * so tests can build a server with their own clock and store.
 */
import type { GatehouseConfig } from './config/schema.ts';
import type { Audit } from './http/audit.ts';
import type { CorsPolicy } from './http/cors.ts';
import type { Metrics } from './http/metrics.ts';
import type { RateLimiter } from './http/rate-limit.ts';
import type { KeyStore } from './keys/keystore.ts';
import type { Client } from './model.ts';
import type { ClientJwksCache } from './protocol/client-jwks.ts';
import type { DpopVerifier } from './protocol/dpop.ts';
import type { PasswordHasher } from './protocol/passwords.ts';
import type { ReplayCache } from './protocol/replay-cache.ts';
import type { ScopeCatalog } from './protocol/scopes.ts';
import type { SessionLogout } from './sessions/logout.ts';
import type { Storage } from './storage/ports.ts';

/** Seconds since the epoch; tests substitute a controllable clock. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);

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
}

export interface ServerContext {
  config: GatehouseConfig;
  issuer: string;
  endpoints: Endpoints;
  storage: Storage;
  keys: KeyStore;
  catalog: ScopeCatalog;
  passwords: PasswordHasher;
  now: Clock;
  audit: Audit;
  rateLimits: RateLimiter;
  /** jti replay protection for DPoP proofs and client assertions (memory, or Redis when configured). */
  replay: ReplayCache;
  /** DPoP proof verification and server nonces (RFC 9449), with the `dpop` settings of the config. */
  dpop: DpopVerifier;
  metrics: Metrics;
  cors: CorsPolicy;
  logout: SessionLogout;
  /** What /readyz runs: each throws (a 503 OAuthError) when a dependency does not answer. */
  readinessChecks: ReadonlyArray<() => Promise<unknown>>;
  findClient(clientId: string): Promise<Client | undefined>;
  /** Client JWKS fetched from jwks_uri (private_key_jwt, self-signed mutual TLS). */
  clientJwks: ClientJwksCache;
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
  };
}
