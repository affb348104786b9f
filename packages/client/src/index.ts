/**
 * Public API of @gatehouse/client: an OAuth 2.1 / OpenID Connect client for Node services, CLIs and
 * native-style apps. See README.md for examples.
 */
export { type ClientAuthentication, formEncode } from './client-auth.ts';
export { clearDiscoveryCache, discover, type ServerMetadata } from './discovery.ts';
export {
  accessTokenHeaders,
  createDPoPProof,
  type DPoPKey,
  dpopThumbprint,
  generateDPoPKey,
} from './dpop.ts';
export {
  type ClientErrorCode,
  GatehouseClientError,
  LoginRequiredError,
  OAuthResponseError,
} from './errors.ts';
export { type AuthenticatedFetchOptions, authenticatedFetch } from './fetch.ts';
export type { HttpOptions } from './http.ts';
export type { IdTokenClaims } from './id-token.ts';
export {
  authorizeWithLoopback,
  type LoopbackListener,
  type LoopbackOptions,
  openSystemBrowser,
  startLoopbackListener,
} from './loopback.ts';
export {
  type AuthorizationRequestOptions,
  accessTokenType,
  type Clock,
  type DeviceAuthorization,
  type DevicePollOptions,
  OAuthClient,
  type OAuthClientOptions,
  type PendingAuthorization,
  systemClock,
  type TokenExchangeRequest,
  type TokenSet,
} from './oauth-client.ts';
export {
  codeChallengeS256,
  generateCodeVerifier,
  generatePkcePair,
  type PkcePair,
  randomToken,
} from './pkce.ts';
export {
  type AccessToken,
  type AccessTokenSource,
  FileSessionStore,
  MemorySessionStore,
  type SessionStore,
  TokenManager,
  type TokenManagerOptions,
  type UserSession,
} from './token-manager.ts';
