/**
 * Public API of @gatehouse/client: an OAuth 2.1 / OpenID Connect client for Node services, CLIs and
 * native-style apps. See README.md for examples.
 */

export type { AuthorizationRequestOptions, PendingAuthorization } from './authorization-code.ts';
export type {
  BackchannelAuthentication,
  BackchannelAuthenticationOptions,
} from './backchannel-authentication.ts';
export { type ClientAuthentication, formEncode } from './client-auth.ts';
export { type Clock, systemClock } from './clock.ts';
export type { DeviceAuthorization, DevicePollOptions } from './device-authorization.ts';
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
export type { IdTokenClaims, IssuerRule } from './id-token.ts';
export {
  backchannelLogoutEvent,
  type LogoutTokenClaims,
  LogoutTokenError,
  LogoutTokenValidator,
  type LogoutTokenValidatorOptions,
} from './logout-token.ts';
export {
  authorizeWithLoopback,
  type LoopbackListener,
  type LoopbackOptions,
  openSystemBrowser,
  startLoopbackListener,
} from './loopback.ts';
export { OAuthClient, type OAuthClientOptions } from './oauth-client.ts';
export {
  codeChallengeS256,
  generateCodeVerifier,
  generatePkcePair,
  type PkcePair,
  randomToken,
} from './pkce.ts';
export {
  type StepUpChallenge,
  stepUpAuthorizationOptions,
  stepUpChallenge,
} from './step-up.ts';
export type { TokenSet } from './token-endpoint.ts';
export { accessTokenType, type TokenExchangeRequest } from './token-grants.ts';
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
