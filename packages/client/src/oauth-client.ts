/**
 * The OAuth 2.1 / OpenID Connect client: one object per (server, client registration). It holds the
 * registration, discovery (RFC 8414 §3, OpenID Connect Discovery 1.0 §4) and the issuer's JWKS cache,
 * and composes the request modules:
 * - authorization code flow with PKCE and PAR (OAuth 2.1 §4.1, RFC 7636, RFC 9126): authorization-code.ts;
 * - refresh, client credentials and token exchange (OAuth 2.1 §4.3, §4.2, RFC 8693): token-grants.ts;
 * - device authorization (RFC 8628): device-authorization.ts;
 * - token requests with DPoP (OAuth 2.1 §3.2, RFC 9449 §8): token-endpoint.ts;
 * - UserInfo (OpenID Connect Core §5.3): userinfo.ts;
 * - revocation (RFC 7009) and RP-initiated logout (RP-Initiated Logout 1.0 §2): session-end.ts.
 */

import type { CryptoKey, ProtectedHeaderParameters } from 'jose';
import {
  type AuthorizationRequestOptions,
  createAuthorizationRequest,
  exchangeCallback,
  type PendingAuthorization,
} from './authorization-code.ts';
import {
  type BackchannelAuthentication,
  type BackchannelAuthenticationOptions,
  pollBackchannelAuthentication,
  redeemBackchannelAuthentication,
  startBackchannelAuthentication,
} from './backchannel-authentication.ts';
import type { ClientAuthentication } from './client-auth.ts';
import type { ClientContext } from './client-context.ts';
import { type Clock, systemClock } from './clock.ts';
import {
  type DeviceAuthorization,
  type DevicePollOptions,
  pollDeviceAuthorization,
  startDeviceAuthorization,
} from './device-authorization.ts';
import { discover, type ServerMetadata } from './discovery.ts';
import type { DPoPKey } from './dpop.ts';
import { GatehouseClientError } from './errors.ts';
import type { HttpOptions } from './http.ts';
import { defaultJwksMaxAge, type IssuerRule, JwksCache } from './id-token.ts';
import { endSessionUrl, revokeToken } from './session-end.ts';
import type { TokenSet } from './token-endpoint.ts';
import {
  clientCredentialsGrant,
  type GrantOptions,
  refreshGrant,
  type TokenExchangeRequest,
  tokenExchangeGrant,
} from './token-grants.ts';
import { fetchUserinfo } from './userinfo.ts';

export interface OAuthClientOptions {
  /** The issuer identifier; metadata is discovered from it unless `metadata` is given. */
  issuer: string;
  /** Metadata to use instead of discovery. */
  metadata?: ServerMetadata;
  clientId: string;
  /** Default `{ method: 'none' }` (a public client). */
  clientAuthentication?: ClientAuthentication;
  /** Default redirect URI of authorization requests. */
  redirectUri?: string;
  /** Binds tokens to this key with DPoP (RFC 9449). */
  dpop?: DPoPKey;
  /**
   * Pushed authorization requests (RFC 9126): `auto` (default) pushes when the server offers PAR,
   * `always` requires it, `never` pushes only when the server requires it.
   */
  par?: 'auto' | 'always' | 'never';
  http?: HttpOptions;
  /**
   * Seconds a fetched JWKS is trusted before the next key lookup fetches it again; default 600. A key
   * the issuer removes stops verifying ID Tokens (and `issuerKey` lookups) within this age. When that
   * fetch fails, the token is refused: keys past this age are never used.
   */
  jwksMaxAge?: number;
  clock?: Clock;
  /** Seconds of clock skew accepted when validating ID Tokens; default 30. */
  clockTolerance?: number;
  /**
   * For a multi-tenant server (Microsoft Entra ID `organizations`, `common`): the issuer its discovery
   * document names, and the rule that accepts an ID Token's `iss`, in place of comparing both with `issuer`.
   */
  issuerRule?: IssuerRule;
}

/** An OAuth 2.1 / OpenID Connect client of one authorization server. */
export class OAuthClient {
  readonly issuer: string;
  readonly clientId: string;
  readonly clock: Clock;
  readonly dpop: DPoPKey | undefined;
  private readonly http: HttpOptions;
  private readonly options: OAuthClientOptions;
  private readonly context: ClientContext;
  private jwks: JwksCache | undefined;

  constructor(options: OAuthClientOptions) {
    this.options = options;
    this.issuer = options.issuer;
    this.clientId = options.clientId;
    this.http = options.http ?? {};
    this.clock = options.clock ?? systemClock;
    this.dpop = options.dpop;
    if (
      options.jwksMaxAge !== undefined &&
      !(Number.isFinite(options.jwksMaxAge) && options.jwksMaxAge > 0)
    ) {
      throw new TypeError('jwksMaxAge must be a positive number of seconds');
    }
    this.context = {
      issuer: this.issuer,
      clientId: this.clientId,
      clientAuthentication: options.clientAuthentication ?? { method: 'none' },
      dpop: this.dpop,
      http: this.http,
      clock: this.clock,
      get clockTolerance() {
        return options.clockTolerance ?? 30;
      },
      issuerRule: options.issuerRule,
      metadata: () => this.metadata(),
      jwksCache: () => this.jwksCache(),
    };
  }

  /** The server's metadata (discovered once and cached). */
  async metadata(): Promise<ServerMetadata> {
    if (this.options.metadata !== undefined) return this.options.metadata;
    const documentIssuer = this.options.issuerRule?.documentIssuer;
    return discover(this.issuer, {
      http: this.http,
      now: this.clock,
      ...(documentIssuer === undefined ? {} : { documentIssuer }),
    });
  }

  /**
   * The issuer's key for a JWS header, from the same JWKS cache that ID Token validation uses (fetched
   * through the client's HTTP settings, again once older than `jwksMaxAge` and on an unknown `kid`;
   * rejects with the fetch's error when it cannot be fetched): for verifying other JWTs the issuer
   * signs, such as back-channel logout tokens. A key resolver for jose's `jwtVerify`.
   */
  async issuerKey(header: ProtectedHeaderParameters): Promise<CryptoKey> {
    return (await this.jwksCache()).resolve(header);
  }

  private async jwksCache(): Promise<JwksCache> {
    if (this.jwks === undefined) {
      const uri = (await this.metadata()).jwks_uri;
      if (typeof uri !== 'string') {
        throw new GatehouseClientError('unsupported', `${this.issuer} does not advertise jwks_uri`);
      }
      this.jwks = new JwksCache(uri, this.http, this.clock, this.options.jwksMaxAge ?? defaultJwksMaxAge);
    }
    return this.jwks;
  }

  /**
   * Starts an authorization code flow: a PKCE pair, `state`, `nonce` (when `openid` is asked for) and the
   * URL to send the browser to. With PAR the parameters are pushed first and the URL carries only
   * `client_id` and `request_uri`.
   */
  authorizationRequest(options: AuthorizationRequestOptions = {}): Promise<PendingAuthorization> {
    const defaults = { par: this.options.par ?? 'auto', redirectUri: this.options.redirectUri };
    return createAuthorizationRequest(this.context, defaults, options);
  }

  /**
   * Handles the redirect back to the client: checks `state`, then `iss` (RFC 9207), then an `error`,
   * exchanges the code with the PKCE verifier and validates the ID Token.
   */
  handleCallback(
    callbackUrl: string | URL,
    pending: PendingAuthorization,
    options: { signal?: AbortSignal } = {},
  ): Promise<TokenSet> {
    return exchangeCallback(this.context, callbackUrl, pending, options.signal);
  }

  /** Uses a refresh token (OAuth 2.1 §4.3). Keep the new refresh token when one comes back (rotation). */
  refresh(
    refreshToken: string,
    options: { scope?: string; resource?: string | string[]; signal?: AbortSignal } = {},
  ): Promise<TokenSet> {
    return refreshGrant(this.context, refreshToken, options);
  }

  /** A token for the client itself (OAuth 2.1 §4.2). Prefer {@link TokenManager}, which caches it. */
  clientCredentials(
    options: { scope?: string; resource?: string | string[]; signal?: AbortSignal } = {},
  ): Promise<TokenSet> {
    return clientCredentialsGrant(this.context, options);
  }

  /** Token exchange (RFC 8693 §2.1); the answer must name `issued_token_type` (§2.2.1). */
  tokenExchange(request: TokenExchangeRequest): Promise<TokenSet> {
    return tokenExchangeGrant(this.context, request);
  }

  /** Starts the device flow (RFC 8628 §3.1, §3.2). */
  startDeviceAuthorization(options: GrantOptions = {}): Promise<DeviceAuthorization> {
    return startDeviceAuthorization(this.context, options);
  }

  /**
   * Polls the token endpoint until the user approves (RFC 8628 §3.4, §3.5): waits `interval` seconds
   * before each poll, adds 5 seconds on `slow_down`, doubles the wait after a network failure or timeout,
   * and stops at `expires_in` (`device_code_expired`) or when `signal` aborts (`aborted`).
   */
  pollDeviceAuthorization(
    authorization: DeviceAuthorization,
    options: DevicePollOptions = {},
  ): Promise<TokenSet> {
    return pollDeviceAuthorization(this.context, authorization, options);
  }

  /**
   * The whole device flow: start, hand the user code and verification URI to `showUserCode` (print them,
   * draw a QR code of `verificationUriComplete`), then poll until approval, denial, expiry or `signal`.
   */
  async authorizeDevice(
    options: {
      scope?: string;
      resource?: string | string[];
      showUserCode: (authorization: DeviceAuthorization) => void | Promise<void>;
    } & DevicePollOptions,
  ): Promise<TokenSet> {
    const start: GrantOptions = {};
    if (options.scope !== undefined) start.scope = options.scope;
    if (options.resource !== undefined) start.resource = options.resource;
    if (options.signal !== undefined) start.signal = options.signal;
    const authorization = await this.startDeviceAuthorization(start);
    await options.showUserCode(authorization);
    return this.pollDeviceAuthorization(authorization, options);
  }

  /** Starts a CIBA request (CIBA Core §7.1, §7.3) for the user a hint names. */
  startBackchannelAuthentication(
    options: BackchannelAuthenticationOptions,
  ): Promise<BackchannelAuthentication> {
    return startBackchannelAuthentication(this.context, options);
  }

  /**
   * CIBA poll mode (CIBA Core §7.3, §11): polls until the user decides, adding 5 seconds on `slow_down`,
   * and stops at `expires_in` (`auth_req_id_expired`) or when `signal` aborts (`aborted`).
   */
  pollBackchannelAuthentication(
    authentication: BackchannelAuthentication,
    options: DevicePollOptions = {},
  ): Promise<TokenSet> {
    return pollBackchannelAuthentication(this.context, authentication, options);
  }

  /** CIBA ping mode (CIBA Core §10.2): the token request once the ping for `authReqId` has arrived. */
  redeemBackchannelAuthentication(
    authReqId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<TokenSet> {
    return redeemBackchannelAuthentication(this.context, authReqId, options.signal);
  }

  /**
   * The UserInfo response for an access token (OpenID Connect Core §5.3.1), as JSON. `expectedSubject` is
   * the ID Token's `sub`: a different `sub` is refused (§5.3.2, against token substitution). `DPoP`
   * tokens are sent with a proof.
   */
  userinfo(
    accessToken: string,
    options: { tokenType?: string; expectedSubject: string; signal?: AbortSignal },
  ): Promise<Record<string, unknown>> {
    return fetchUserinfo(this.context, accessToken, options);
  }

  /** Revokes a token (RFC 7009 §2.1). Unknown tokens succeed too (§2.2). */
  revoke(
    token: string,
    options: { tokenTypeHint?: 'access_token' | 'refresh_token'; signal?: AbortSignal } = {},
  ): Promise<void> {
    return revokeToken(this.context, token, options);
  }

  /** The URL that signs the user out at the server (RP-Initiated Logout 1.0 §2). */
  endSessionUrl(
    options: {
      idTokenHint?: string;
      postLogoutRedirectUri?: string;
      state?: string;
      logoutHint?: string;
    } = {},
  ): Promise<URL> {
    return endSessionUrl(this.context, options);
  }
}
