/**
 * The OAuth 2.1 / OpenID Connect client: one object per (server, client registration).
 * - Authorization request (OAuth 2.1 §4.1.1, RFC 7636 PKCE S256, OpenID Connect Core §3.1.2.1), pushed
 *   when the server supports or requires PAR (RFC 9126 §2, §5).
 * - Authorization response (OAuth 2.1 §4.1.2): `state`, `iss` (RFC 9207 §2.4) and errors (§4.1.2.1)
 *   are checked before the code is exchanged (§4.1.3) and the ID Token validated (Core §3.1.3.7).
 * - UserInfo (OpenID Connect Core §5.3): the `sub` must equal the ID Token's (§5.3.2).
 * - Refresh (OAuth 2.1 §4.3), client credentials (§4.2), token exchange (RFC 8693 §2.1), device
 *   authorization and polling (RFC 8628 §3.1, §3.4, §3.5), revocation (RFC 7009 §2.1) and the
 *   RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0 §2).
 * - Token requests carry a DPoP proof when the client has a DPoP key, and are retried once with the
 *   server's nonce on `use_dpop_nonce` (RFC 9449 §8).
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { CryptoKey, ProtectedHeaderParameters } from 'jose';
import { authenticate, type ClientAuthentication } from './client-auth.ts';
import { discover, type ServerMetadata } from './discovery.ts';
import { accessTokenHeaders, createDPoPProof, type DPoPKey, rememberDPoPNonce } from './dpop.ts';
import { GatehouseClientError, OAuthResponseError } from './errors.ts';
import { formBody, type HttpOptions, httpRequest, oauthJson } from './http.ts';
import { defaultJwksMaxAge, type IdTokenClaims, JwksCache, validateIdToken } from './id-token.ts';
import { generatePkcePair, randomToken } from './pkce.ts';

/** Seconds since the epoch. Tests pass a controllable clock. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);

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
}

/** A token endpoint response, typed. */
export interface TokenSet {
  accessToken: string;
  /** `Bearer` or `DPoP` (as the server wrote it). */
  tokenType: string;
  /** Absolute expiry in seconds since the epoch (by the client's clock), when the server gave expires_in. */
  expiresAt: number | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  /** Validated ID Token claims, when an ID Token came. */
  claims: IdTokenClaims | undefined;
  scope: string | undefined;
  /** RFC 8693 `issued_token_type`. */
  issuedTokenType: string | undefined;
  /** The whole response body. */
  raw: Record<string, unknown>;
}

export interface AuthorizationRequestOptions {
  /** Space-separated scopes; default `openid`. */
  scope?: string;
  redirectUri?: string;
  /** RFC 8707 resource indicators. */
  resource?: string | string[];
  prompt?: string;
  loginHint?: string;
  maxAge?: number;
  /** More authorization request parameters. */
  extra?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * What the application keeps between sending the user away and receiving the callback. Keep it
 * server-side or in memory: the code verifier is a secret.
 */
export interface PendingAuthorization {
  /** Send the user's browser here. */
  url: URL;
  state: string;
  /** Sent when `openid` was requested. */
  nonce: string | undefined;
  codeVerifier: string;
  redirectUri: string;
  /** The `max_age` sent, if any: the ID Token's `auth_time` is then checked against it. */
  maxAge?: number;
}

export interface DeviceAuthorization {
  deviceCode: string;
  /** Show this to the user... */
  userCode: string;
  /** ...and this, where they enter it. */
  verificationUri: string;
  /** The URI with the code included (for a QR code), when the server gives one. */
  verificationUriComplete: string | undefined;
  expiresIn: number;
  /** Seconds between polls; 5 when the server does not say (RFC 8628 §3.2). */
  interval: number;
  /** When the authorization started, by the client's clock. */
  startedAt: number;
}

export interface DevicePollOptions {
  signal?: AbortSignal;
  /** Waits between polls; default a real timer. Tests pass one that advances their clock. */
  sleep?: (milliseconds: number, signal: AbortSignal | undefined) => Promise<void>;
}

export interface TokenExchangeRequest {
  subjectToken: string;
  /** e.g. `urn:ietf:params:oauth:token-type:access_token`. */
  subjectTokenType: string;
  actorToken?: string;
  actorTokenType?: string;
  requestedTokenType?: string;
  audience?: string | string[];
  resource?: string | string[];
  scope?: string;
  signal?: AbortSignal;
}

const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';

export { accessTokenType };

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

async function defaultSleep(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleepFor(milliseconds, undefined, signal ? { signal } : {});
  } catch (error) {
    throw new GatehouseClientError('aborted', 'device polling was cancelled', { cause: error });
  }
}

/** An OAuth 2.1 / OpenID Connect client of one authorization server. */
export class OAuthClient {
  readonly issuer: string;
  readonly clientId: string;
  readonly clock: Clock;
  readonly dpop: DPoPKey | undefined;
  private readonly auth: ClientAuthentication;
  private readonly http: HttpOptions;
  private readonly options: OAuthClientOptions;
  private jwks: JwksCache | undefined;

  constructor(options: OAuthClientOptions) {
    this.options = options;
    this.issuer = options.issuer;
    this.clientId = options.clientId;
    this.auth = options.clientAuthentication ?? { method: 'none' };
    this.http = options.http ?? {};
    this.clock = options.clock ?? systemClock;
    this.dpop = options.dpop;
    if (
      options.jwksMaxAge !== undefined &&
      !(Number.isFinite(options.jwksMaxAge) && options.jwksMaxAge > 0)
    ) {
      throw new TypeError('jwksMaxAge must be a positive number of seconds');
    }
  }

  /** The server's metadata (discovered once and cached). */
  async metadata(): Promise<ServerMetadata> {
    if (this.options.metadata !== undefined) return this.options.metadata;
    return discover(this.issuer, { http: this.http, now: this.clock });
  }

  private async endpoint(name: keyof ServerMetadata & `${string}_endpoint`): Promise<string> {
    const url = (await this.metadata())[name];
    if (typeof url !== 'string') {
      throw new GatehouseClientError('unsupported', `${this.issuer} does not advertise ${name}`);
    }
    return url;
  }

  /**
   * POSTs a form with client authentication (and a DPoP proof when `dpop`), retrying once when the
   * server asks for a DPoP nonce.
   */
  private async post(
    url: string,
    values: Record<string, string | readonly string[] | undefined>,
    options: { dpop: boolean; signal: AbortSignal | undefined },
  ): Promise<Record<string, unknown>> {
    for (let attempt = 0; ; attempt++) {
      const auth = await authenticate(this.clientId, this.auth, this.issuer, this.clock());
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...auth.headers,
      };
      const dpop = options.dpop ? this.dpop : undefined;
      if (dpop !== undefined) {
        headers.dpop = await createDPoPProof(dpop, { method: 'POST', url, now: this.clock() });
      }
      const response = await httpRequest(
        url,
        { method: 'POST', headers, body: formBody({ ...values, ...auth.params }), signal: options.signal },
        this.http,
      );
      const gotNonce = dpop !== undefined && rememberDPoPNonce(dpop, url, response.headers);
      try {
        return oauthJson(response, url);
      } catch (error) {
        const retry =
          attempt === 0 &&
          gotNonce &&
          error instanceof OAuthResponseError &&
          error.error === 'use_dpop_nonce';
        if (!retry) throw error;
      }
    }
  }

  private async tokenRequest(
    values: Record<string, string | readonly string[] | undefined>,
    signal: AbortSignal | undefined,
    idToken: { nonce: string | undefined; required: boolean; maxAge?: number | undefined } = {
      nonce: undefined,
      required: false,
    },
  ): Promise<TokenSet> {
    const url = await this.endpoint('token_endpoint');
    const body = await this.post(url, values, { dpop: true, signal });
    const accessToken = asString(body.access_token);
    const tokenType = asString(body.token_type);
    if (accessToken === undefined || tokenType === undefined) {
      throw new GatehouseClientError(
        'invalid_response',
        `${url} answered without access_token or token_type`,
      );
    }
    const expiresIn = body.expires_in;
    if (expiresIn !== undefined && (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn))) {
      throw new GatehouseClientError('invalid_response', `${url} answered a non-numeric expires_in`);
    }
    const rawIdToken = asString(body.id_token);
    let claims: IdTokenClaims | undefined;
    if (rawIdToken !== undefined) {
      claims = await validateIdToken(rawIdToken, await this.jwksCache(), {
        issuer: this.issuer,
        clientId: this.clientId,
        nonce: idToken.nonce,
        maxAge: idToken.maxAge,
        accessToken,
        now: this.clock(),
        clockTolerance: this.options.clockTolerance ?? 30,
      });
    } else if (idToken.required) {
      throw new GatehouseClientError('id_token_invalid', 'openid was requested but no id_token came back');
    }
    return {
      accessToken,
      tokenType,
      expiresAt: typeof expiresIn === 'number' ? this.clock() + expiresIn : undefined,
      refreshToken: asString(body.refresh_token),
      idToken: rawIdToken,
      claims,
      scope: asString(body.scope),
      issuedTokenType: asString(body.issued_token_type),
      raw: body,
    };
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
  async authorizationRequest(options: AuthorizationRequestOptions = {}): Promise<PendingAuthorization> {
    const metadata = await this.metadata();
    const authorizationEndpoint = await this.endpoint('authorization_endpoint');
    const redirectUri = options.redirectUri ?? this.options.redirectUri;
    if (redirectUri === undefined) throw new TypeError('a redirectUri is required');
    const scope = options.scope ?? 'openid';
    const pkce = generatePkcePair();
    const state = randomToken();
    const nonce = scope.split(' ').includes('openid') ? randomToken() : undefined;
    const params: Record<string, string | string[] | undefined> = {
      response_type: 'code',
      client_id: this.clientId,
      redirect_uri: redirectUri,
      scope,
      state,
      nonce,
      code_challenge: pkce.codeChallenge,
      code_challenge_method: pkce.codeChallengeMethod,
      prompt: options.prompt,
      login_hint: options.loginHint,
      max_age: options.maxAge === undefined ? undefined : String(options.maxAge),
      resource: typeof options.resource === 'string' ? [options.resource] : options.resource,
      ...options.extra,
    };
    const parEndpoint = metadata.pushed_authorization_request_endpoint;
    const mode = this.options.par ?? 'auto';
    const usePar =
      mode === 'always' ||
      metadata.require_pushed_authorization_requests === true ||
      (mode === 'auto' && typeof parEndpoint === 'string');
    const url = new URL(authorizationEndpoint);
    if (usePar) {
      if (typeof parEndpoint !== 'string') {
        throw new GatehouseClientError('unsupported', `${this.issuer} has no PAR endpoint`);
      }
      const body = await this.post(parEndpoint, params, { dpop: false, signal: options.signal });
      const requestUri = asString(body.request_uri);
      if (requestUri === undefined) {
        throw new GatehouseClientError('invalid_response', `${parEndpoint} answered without request_uri`);
      }
      url.searchParams.set('client_id', this.clientId);
      url.searchParams.set('request_uri', requestUri);
    } else {
      for (const [name, value] of new URLSearchParams(formBody(params))) url.searchParams.append(name, value);
    }
    const pending: PendingAuthorization = { url, state, nonce, codeVerifier: pkce.codeVerifier, redirectUri };
    if (options.maxAge !== undefined) pending.maxAge = options.maxAge;
    return pending;
  }

  /**
   * Handles the redirect back to the client: checks `state`, then `iss` (RFC 9207), then an `error`,
   * exchanges the code with the PKCE verifier and validates the ID Token.
   */
  async handleCallback(
    callbackUrl: string | URL,
    pending: PendingAuthorization,
    options: { signal?: AbortSignal } = {},
  ): Promise<TokenSet> {
    const params = new URL(callbackUrl).searchParams;
    if (params.get('state') !== pending.state) {
      throw new GatehouseClientError('state_mismatch', 'the callback state does not match the request');
    }
    const iss = params.get('iss');
    if (iss !== null && iss !== this.issuer) {
      throw new GatehouseClientError('issuer_mismatch', `the callback came from issuer ${iss}`);
    }
    if (iss === null && (await this.metadata()).authorization_response_iss_parameter_supported === true) {
      throw new GatehouseClientError(
        'issuer_mismatch',
        'the callback has no iss although the server sends it',
      );
    }
    const error = params.get('error');
    if (error !== null) throw new OAuthResponseError(error, params.get('error_description') ?? undefined, 0);
    const code = params.get('code');
    if (code === null) throw new GatehouseClientError('invalid_response', 'the callback has no code');
    return this.tokenRequest(
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: pending.redirectUri,
        code_verifier: pending.codeVerifier,
      },
      options.signal,
      { nonce: pending.nonce, required: pending.nonce !== undefined, maxAge: pending.maxAge },
    );
  }

  /** Uses a refresh token (OAuth 2.1 §4.3). Keep the new refresh token when one comes back (rotation). */
  refresh(
    refreshToken: string,
    options: { scope?: string; resource?: string | string[]; signal?: AbortSignal } = {},
  ): Promise<TokenSet> {
    return this.tokenRequest(
      {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        scope: options.scope,
        resource: options.resource,
      },
      options.signal,
    );
  }

  /** A token for the client itself (OAuth 2.1 §4.2). Prefer {@link TokenManager}, which caches it. */
  clientCredentials(
    options: { scope?: string; resource?: string | string[]; signal?: AbortSignal } = {},
  ): Promise<TokenSet> {
    return this.tokenRequest(
      { grant_type: 'client_credentials', scope: options.scope, resource: options.resource },
      options.signal,
    );
  }

  /** Token exchange (RFC 8693 §2.1); the answer must name `issued_token_type` (§2.2.1). */
  async tokenExchange(request: TokenExchangeRequest): Promise<TokenSet> {
    const tokens = await this.tokenRequest(
      {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: request.subjectToken,
        subject_token_type: request.subjectTokenType,
        actor_token: request.actorToken,
        actor_token_type: request.actorTokenType,
        requested_token_type: request.requestedTokenType,
        audience: request.audience,
        resource: request.resource,
        scope: request.scope,
      },
      request.signal,
    );
    if (tokens.issuedTokenType === undefined) {
      throw new GatehouseClientError(
        'invalid_response',
        'the token exchange answer has no issued_token_type',
      );
    }
    return tokens;
  }

  /** Starts the device flow (RFC 8628 §3.1, §3.2). */
  async startDeviceAuthorization(
    options: { scope?: string; resource?: string | string[]; signal?: AbortSignal } = {},
  ): Promise<DeviceAuthorization> {
    const url = await this.endpoint('device_authorization_endpoint');
    const body = await this.post(
      url,
      { client_id: this.clientId, scope: options.scope, resource: options.resource },
      { dpop: false, signal: options.signal },
    );
    const deviceCode = asString(body.device_code);
    const userCode = asString(body.user_code);
    const verificationUri = asString(body.verification_uri);
    const expiresIn = body.expires_in;
    if (!deviceCode || !userCode || !verificationUri || typeof expiresIn !== 'number') {
      throw new GatehouseClientError(
        'invalid_response',
        `${url} answered an incomplete device authorization`,
      );
    }
    const interval = typeof body.interval === 'number' && body.interval > 0 ? body.interval : 5;
    return {
      deviceCode,
      userCode,
      verificationUri,
      verificationUriComplete: asString(body.verification_uri_complete),
      expiresIn,
      interval,
      startedAt: this.clock(),
    };
  }

  /**
   * Polls the token endpoint until the user approves (RFC 8628 §3.4, §3.5): waits `interval` seconds
   * before each poll, adds 5 seconds on `slow_down`, doubles the wait after a network failure or timeout,
   * and stops at `expires_in` (`device_code_expired`) or when `signal` aborts (`aborted`).
   */
  async pollDeviceAuthorization(
    authorization: DeviceAuthorization,
    options: DevicePollOptions = {},
  ): Promise<TokenSet> {
    const sleep = options.sleep ?? defaultSleep;
    const deadline = authorization.startedAt + authorization.expiresIn;
    let interval = authorization.interval;
    for (;;) {
      if (options.signal?.aborted) {
        throw new GatehouseClientError('aborted', 'device polling was cancelled', {
          cause: options.signal.reason,
        });
      }
      if (this.clock() + interval > deadline) {
        throw new GatehouseClientError('device_code_expired', 'the device code expired before approval');
      }
      await sleep(interval * 1000, options.signal);
      try {
        return await this.tokenRequest(
          {
            grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
            device_code: authorization.deviceCode,
            client_id: this.clientId,
          },
          options.signal,
        );
      } catch (error) {
        if (error instanceof OAuthResponseError && error.error === 'authorization_pending') continue;
        if (error instanceof OAuthResponseError && error.error === 'slow_down') {
          interval += 5;
          continue;
        }
        if (
          error instanceof GatehouseClientError &&
          (error.code === 'timeout' || error.code === 'network_error') &&
          !options.signal?.aborted
        ) {
          interval = Math.min(interval * 2, 60);
          continue;
        }
        throw error;
      }
    }
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
    const start: { scope?: string; resource?: string | string[]; signal?: AbortSignal } = {};
    if (options.scope !== undefined) start.scope = options.scope;
    if (options.resource !== undefined) start.resource = options.resource;
    if (options.signal !== undefined) start.signal = options.signal;
    const authorization = await this.startDeviceAuthorization(start);
    await options.showUserCode(authorization);
    return this.pollDeviceAuthorization(authorization, options);
  }

  /**
   * The UserInfo response for an access token (OpenID Connect Core §5.3.1), as JSON. `expectedSubject` is
   * the ID Token's `sub`: a different `sub` is refused (§5.3.2, against token substitution). `DPoP`
   * tokens are sent with a proof.
   */
  async userinfo(
    accessToken: string,
    options: { tokenType?: string; expectedSubject: string; signal?: AbortSignal },
  ): Promise<Record<string, unknown>> {
    const url = await this.endpoint('userinfo_endpoint');
    const credentials = await accessTokenHeaders(
      { value: accessToken, type: options.tokenType ?? 'Bearer' },
      this.dpop,
      { method: 'GET', url, now: this.clock() },
    );
    const headers = { accept: 'application/json', ...credentials };
    const response = await httpRequest(url, { method: 'GET', headers, signal: options.signal }, this.http);
    if (credentials.dpop !== undefined && this.dpop !== undefined) {
      rememberDPoPNonce(this.dpop, url, response.headers);
    }
    const claims = oauthJson(response, url);
    if (claims.sub !== options.expectedSubject) {
      throw new GatehouseClientError('invalid_response', `${url} answered for another subject`);
    }
    return claims;
  }

  /** Revokes a token (RFC 7009 §2.1). Unknown tokens succeed too (§2.2). */
  async revoke(
    token: string,
    options: { tokenTypeHint?: 'access_token' | 'refresh_token'; signal?: AbortSignal } = {},
  ): Promise<void> {
    const url = await this.endpoint('revocation_endpoint');
    const auth = await authenticate(this.clientId, this.auth, this.issuer, this.clock());
    const response = await httpRequest(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
        body: formBody({ token, token_type_hint: options.tokenTypeHint, ...auth.params }),
        signal: options.signal,
      },
      this.http,
    );
    if (response.status !== 200) oauthJson(response, url);
  }

  /** The URL that signs the user out at the server (RP-Initiated Logout 1.0 §2). */
  async endSessionUrl(
    options: {
      idTokenHint?: string;
      postLogoutRedirectUri?: string;
      state?: string;
      logoutHint?: string;
    } = {},
  ): Promise<URL> {
    const url = new URL(await this.endpoint('end_session_endpoint'));
    const params: Record<string, string | undefined> = {
      client_id: this.clientId,
      id_token_hint: options.idTokenHint,
      post_logout_redirect_uri: options.postLogoutRedirectUri,
      state: options.state,
      logout_hint: options.logoutHint,
    };
    for (const [name, value] of Object.entries(params))
      if (value !== undefined) url.searchParams.set(name, value);
    return url;
  }
}
