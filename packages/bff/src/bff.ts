/**
 * The backend-for-frontend core: a single-page app signs in through it and holds nothing but one
 * HttpOnly cookie; tokens stay in a server-side store and are attached to API calls by the proxy.
 * One implementation on Node's request/response objects, mounted by the Express and Fastify adapters.
 *
 * Endpoints (under `basePath`, default `/bff`):
 * - `GET login`: authorization code flow with PKCE (OAuth 2.1 §4.1, RFC 7636), pushed (RFC 9126) when the
 *   server offers PAR, with `state` and `nonce`; all of it through @gatehouse/client. `returnUrl` must be
 *   a local path of this origin (no scheme, no `//`, no backslash), which closes the open redirect.
 *   `prompt=none` is silent login as a top-level navigation (no iframe, so it does not depend on
 *   third-party cookies, which browsers block): when the server needs the user (`login_required` and
 *   the other Core §3.1.2.6 errors) the browser simply returns to `returnUrl`, still anonymous.
 * - `GET callback`: the pending request is found by `state` and must belong to this browser (a
 *   `__Host-` login cookie, SameSite=Lax because the callback is a cross-site navigation); unknown or
 *   foreign state is 400. The client checks `iss` (RFC 9207), exchanges the code and validates the ID
 *   Token; the user's claims are read once from UserInfo (its `sub` must match, Core §5.3.2). A new session id is issued at every login (session fixation, OWASP ASVS V3.2.1).
 * - `GET user`: the ID Token's user claims and the session's expiry, or 401 `login_required`. Never a
 *   redirect: an XHR cannot follow one to a login page usefully.
 * - `POST logout`: ends the local session, revokes the refresh token (RFC 7009) and answers where to send
 *   the browser for RP-initiated logout (RP-Initiated Logout 1.0 §2). The ID Token used as
 *   `id_token_hint` never reaches the page: the answer is a one-time local URL (`logout/continue`) that
 *   redirects to the end-session endpoint.
 * - `POST backchannel`: logout tokens (Back-Channel Logout 1.0 §2.5-§2.8) end every session of the `sid`,
 *   or of the `sub` when no `sid` is given; replayed `jti`s are refused.
 * - `/api/<name>/*`: the proxy (proxy.ts) to the configured upstreams, after checking the session has the
 *   upstream's scopes.
 * - `GET diagnostics` (only with `diagnostics: true`): why this request has or lacks a valid session.
 *
 * CSRF: every endpoint but login, callback, logout/continue and backchannel (navigations and a
 * server-to-server call) requires `X-CSRF: 1`. A cross-site page cannot add a custom header without a
 * CORS preflight, which this BFF never grants, so such requests only come from the SPA's own origin.
 * The check runs before the session is even looked at, so a forged request never reaches an upstream.
 *
 * Tokens: the access token is refreshed `refreshBefore` seconds (capped at half its lifetime) before it
 * expires, one refresh per session at a time: concurrent calls in one process share one refresh, and a
 * lock in the shared store keeps other BFF nodes from refreshing the same session meanwhile (they wait
 * for the result), since with rotation a second refresh would be taken for refresh-token theft. A refresh refused with `invalid_grant` ends the session and the
 * call gets 401, so the SPA shows its login instead of a session that "works" but whose API calls fail.
 * An upstream 401 with `error="invalid_token"` (RFC 6750 §3.1) makes the next call refresh first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ClientAuthentication,
  type Clock,
  type DPoPKey,
  GatehouseClientError,
  type HttpOptions,
  LoginRequiredError,
  OAuthClient,
  OAuthResponseError,
  type PendingAuthorization,
  randomToken,
  type ServerMetadata,
  systemClock,
} from '@gatehouse/client';
import { constantTimeEqual } from '@gatehouse/jose-rules';
import { diagnose } from './diagnostics.ts';
import {
  clearCookie,
  readBody,
  readCookie,
  sendError,
  sendJson,
  sendRedirect,
  serializeCookie,
  sha256,
} from './http.ts';
import { LogoutTokenError, LogoutTokenValidator } from './logout-token.ts';
import { proxy, upstreamUrl } from './proxy.ts';
import { Sealer } from './seal.ts';
import { MemorySessionStore, type SessionStore, type StoredRecord } from './stores/store.ts';

/** One upstream API reachable at `<basePath>/api/<name>/...`. */
export interface ApiRoute {
  /** The upstream's base URL; `<basePath>/api/<name>/x` goes to `<url>/x`. */
  url: string;
  /** Scopes the session's token must hold; without them the call is 403 and the upstream is not called. */
  scopes?: string[];
  /** Milliseconds without progress before the call gives up with 504; default 30 000. */
  timeout?: number;
}

export interface BffOptions {
  /** The authorization server's issuer identifier. */
  issuer: string;
  clientId: string;
  /** Default `{ method: 'none' }`; a BFF is a confidential client, so give it a credential. */
  clientAuthentication?: ClientAuthentication;
  /** The public origin the browser uses for the SPA and the BFF, e.g. `https://app.example.com`. */
  baseUrl: string;
  /** Default `/bff`. */
  basePath?: string;
  /** At least 32 characters: the key material that encrypts session records at rest. */
  secret: string;
  /** Scopes asked at login; default `openid profile offline_access` plus every API's scopes. */
  scope?: string;
  apis?: Record<string, ApiRoute>;
  /** Default in memory (one process, development). */
  store?: SessionStore;
  cookie?: {
    /** Default `__Host-bff-session`; must start with `__Host-`. */
    name?: string;
    /** Default `Strict`; `Lax` when the SPA is entered through cross-site links that must be signed in. */
    sameSite?: 'Strict' | 'Lax';
  };
  session?: {
    /** Seconds of inactivity that end a session (sliding); default 8 hours. */
    idleTimeout?: number;
    /** Seconds after login that end a session whatever happens; default 24 hours. */
    absoluteTimeout?: number;
  };
  /** Where the authorization server sends the browser after logout; default `<baseUrl>/`. */
  postLogoutRedirectUri?: string;
  /** Seconds before access-token expiry to refresh it; default 60. */
  refreshBefore?: number;
  /** Serve `GET <basePath>/diagnostics`; default false. */
  diagnostics?: boolean;
  /** Binds tokens to this key (RFC 9449); the proxy then sends DPoP proofs. */
  dpop?: DPoPKey;
  /** Pushed authorization requests; default `auto` (when the server offers them). */
  par?: 'auto' | 'always' | 'never';
  /** Server metadata instead of discovery. */
  metadata?: ServerMetadata;
  http?: HttpOptions;
  /** Seconds the issuer's JWKS is trusted before it is fetched again (the client's `jwksMaxAge`); default 600. */
  jwksMaxAge?: number;
  clock?: Clock;
  /** Seconds between sweeps of expired records; default 300, 0 disables. */
  sweepInterval?: number;
}

/** What a session record holds (sealed in the store). */
export interface SessionData {
  sub: string;
  sid: string | undefined;
  claims: Record<string, unknown>;
  idToken: string | undefined;
  accessToken: string;
  tokenType: string;
  accessIssuedAt: number;
  accessExpiresAt: number;
  refreshToken: string | undefined;
  scopes: string[];
  createdAt: number;
  absoluteExpiresAt: number;
}

interface PendingLogin {
  pending: Omit<PendingAuthorization, 'url'>;
  binding: string;
  returnUrl: string;
  prompt: 'none' | 'login' | undefined;
}

/** Answers to `prompt=none` that mean "the user must interact" (OpenID Connect Core §3.1.2.6). */
const interactionErrors = new Set([
  'login_required',
  'interaction_required',
  'consent_required',
  'account_selection_required',
]);

interface LoadedSession {
  key: string;
  data: SessionData;
  expiresAt: number;
}

/** ID Token claims that describe the protocol, not the user: not shown to the SPA. */
const protocolClaims = new Set([
  'iss',
  'aud',
  'azp',
  'exp',
  'iat',
  'nbf',
  'nonce',
  'at_hash',
  'c_hash',
  'sid',
  'jti',
]);

const pendingLoginTtl = 600;
const logoutTicketTtl = 120;
const touchInterval = 60;
/** Seconds a refresh lock lives if its holder dies (by the BFF's clock). */
const refreshLockTtl = 30;
/** How long a node waits for another node's refresh: 150 polls of 100 ms. */
const refreshLockPolls = 150;
const refreshLockPollMs = 100;

export class Bff {
  readonly basePath: string;
  readonly client: OAuthClient;
  readonly store: SessionStore;
  private readonly clock: Clock;
  private readonly sealer: Sealer;
  private readonly cookieName: string;
  private readonly sameSite: 'Strict' | 'Lax';
  private readonly loginCookie: string;
  private readonly idleTimeout: number;
  private readonly absoluteTimeout: number;
  private readonly scope: string;
  private readonly apis: Map<string, { url: URL; scopes: string[]; timeout: number }>;
  private readonly postLogoutRedirectUri: string;
  private readonly baseOrigin: string;
  private readonly logoutTokens: LogoutTokenValidator;
  private readonly refreshing = new Map<string, Promise<SessionData>>();
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: BffOptions) {
    const base = new URL(options.baseUrl);
    if (base.pathname !== '/' || base.search !== '' || base.hash !== '') {
      throw new TypeError('baseUrl must be an origin, e.g. https://app.example.com');
    }
    this.baseOrigin = base.origin;
    this.basePath = (options.basePath ?? '/bff').replace(/\/$/, '');
    if (!/^\/[A-Za-z0-9._~/-]*$/.test(this.basePath)) throw new TypeError('basePath must be a plain path');
    this.clock = options.clock ?? systemClock;
    this.sealer = new Sealer(options.secret);
    this.cookieName = options.cookie?.name ?? '__Host-bff-session';
    if (!this.cookieName.startsWith('__Host-'))
      throw new TypeError('the cookie name must start with __Host-');
    this.loginCookie = `${this.cookieName}-login`;
    this.sameSite = options.cookie?.sameSite ?? 'Strict';
    this.idleTimeout = options.session?.idleTimeout ?? 8 * 3600;
    this.absoluteTimeout = options.session?.absoluteTimeout ?? 24 * 3600;
    this.store = options.store ?? new MemorySessionStore();
    this.apis = new Map();
    for (const [name, api] of Object.entries(options.apis ?? {})) {
      if (!/^[A-Za-z0-9._~-]+$/.test(name))
        throw new TypeError(`API name "${name}" must be one path segment`);
      const url = new URL(api.url);
      if (url.search !== '' || url.hash !== '') throw new TypeError(`API ${name}: url must have no query`);
      this.apis.set(name, { url, scopes: api.scopes ?? [], timeout: api.timeout ?? 30_000 });
    }
    const apiScopes = [...this.apis.values()].flatMap((api) => api.scopes);
    this.scope =
      options.scope ?? [...new Set(['openid', 'profile', 'offline_access', ...apiScopes])].join(' ');
    this.postLogoutRedirectUri = options.postLogoutRedirectUri ?? `${this.baseOrigin}/`;
    const clientOptions: ConstructorParameters<typeof OAuthClient>[0] = {
      issuer: options.issuer,
      clientId: options.clientId,
      redirectUri: `${this.baseOrigin}${this.basePath}/callback`,
      clock: this.clock,
    };
    if (options.clientAuthentication !== undefined)
      clientOptions.clientAuthentication = options.clientAuthentication;
    if (options.dpop !== undefined) clientOptions.dpop = options.dpop;
    if (options.par !== undefined) clientOptions.par = options.par;
    if (options.metadata !== undefined) clientOptions.metadata = options.metadata;
    if (options.http !== undefined) clientOptions.http = options.http;
    if (options.jwksMaxAge !== undefined) clientOptions.jwksMaxAge = options.jwksMaxAge;
    this.client = new OAuthClient(clientOptions);
    this.logoutTokens = new LogoutTokenValidator({
      issuer: options.issuer,
      clientId: options.clientId,
      now: this.clock,
      key: (header) => this.client.issuerKey(header),
    });
    const sweepInterval = options.sweepInterval ?? 300;
    if (sweepInterval > 0) {
      this.sweeper = setInterval(() => {
        this.store.sweep(this.clock()).catch(() => {});
      }, sweepInterval * 1000);
      this.sweeper.unref();
    }
  }

  /** Stops the sweeper and closes the store. */
  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await this.store.close();
  }

  /**
   * Handles a request under `basePath` and resolves true; resolves false (touching nothing) for any other
   * path. `url` defaults to `req.url` (adapters pass the unmodified URL).
   */
  async handle(req: IncomingMessage, res: ServerResponse, url = req.url ?? '/'): Promise<boolean> {
    const [path = '/', ...queryParts] = url.split('?');
    if (path !== this.basePath && !path.startsWith(`${this.basePath}/`)) return false;
    const query = queryParts.length > 0 ? `?${queryParts.join('?')}` : '';
    try {
      await this.route(req, res, path.slice(this.basePath.length), query);
    } catch {
      // Nothing internal leaves: no message, no stack, no token.
      if (!res.headersSent) sendError(res, 500, 'server_error', 'the BFF could not complete the request');
      else res.destroy();
    }
    return true;
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    const method = req.method ?? 'GET';
    const only = (allowed: string): boolean => {
      // Exact methods only: a HEAD (a link preview, a prefetch) must not start or consume a login.
      if (method === allowed) return true;
      sendError(res, 405, 'invalid_request', `use ${allowed}`, { allow: allowed });
      return false;
    };
    if (path === '/login') {
      if (only('GET')) await this.login(req, res, query);
      return;
    }
    if (path === '/callback') {
      if (only('GET')) await this.callback(req, res, query);
      return;
    }
    if (path === '/logout/continue') {
      if (only('GET')) await this.continueLogout(res, query);
      return;
    }
    if (path === '/backchannel') {
      if (only('POST')) await this.backchannel(req, res);
      return;
    }
    if (path === '/diagnostics' && this.options.diagnostics === true) {
      if (only('GET')) await this.diagnostics(req, res);
      return;
    }
    const isApi = path.startsWith('/api/');
    if (!isApi && path !== '/user' && path !== '/logout') {
      sendError(res, 404, 'not_found', 'no such BFF endpoint');
      return;
    }
    if (req.headers['x-csrf'] !== '1') {
      sendError(res, 403, 'csrf_header_missing', 'BFF calls must carry the header X-CSRF: 1');
      return;
    }
    if (path === '/user') {
      if (only('GET')) await this.user(req, res);
    } else if (path === '/logout') {
      if (only('POST')) await this.logout(req, res);
    } else {
      await this.api(req, res, path.slice('/api/'.length), query);
    }
  }

  // ---- login and callback -------------------------------------------------------------------------

  /** A local path of this origin, or undefined (an absolute or protocol-relative URL, a backslash...). */
  private localReturnUrl(value: string | null): string | undefined {
    if (value === null || value === '') return '/';
    if (!value.startsWith('/') || value.startsWith('//') || /[\\\s\0]/.test(value) || value.length > 2048) {
      return undefined;
    }
    try {
      const url = new URL(value, this.baseOrigin);
      return url.origin === this.baseOrigin ? `${url.pathname}${url.search}${url.hash}` : undefined;
    } catch {
      return undefined;
    }
  }

  private async login(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const params = new URLSearchParams(query);
    if (params.getAll('returnUrl').length > 1) {
      sendError(res, 400, 'invalid_request', 'returnUrl is repeated');
      return;
    }
    const returnUrl = this.localReturnUrl(params.get('returnUrl'));
    if (returnUrl === undefined) {
      sendError(res, 400, 'invalid_request', 'returnUrl must be a local path of this site, such as /orders');
      return;
    }
    const prompts = params.getAll('prompt');
    const prompt = prompts[0];
    if (prompts.length > 1 || (prompt !== undefined && prompt !== 'none' && prompt !== 'login')) {
      sendError(res, 400, 'invalid_request', 'prompt may be none (silent login) or login');
      return;
    }
    let pending: PendingAuthorization;
    try {
      pending = await this.client.authorizationRequest(
        prompt === undefined ? { scope: this.scope } : { scope: this.scope, prompt },
      );
    } catch (error) {
      sendError(res, 502, 'authorization_server_unavailable', describe(error));
      return;
    }
    const binding = readCookie(req, this.loginCookie) ?? randomToken();
    const now = this.clock();
    const record: PendingLogin = {
      pending: {
        state: pending.state,
        nonce: pending.nonce,
        codeVerifier: pending.codeVerifier,
        redirectUri: pending.redirectUri,
      },
      binding: sha256(binding),
      returnUrl,
      prompt,
    };
    const key = `login:${sha256(pending.state)}`;
    await this.store.set(key, { data: this.sealer.seal(record, key), expiresAt: now + pendingLoginTtl });
    sendRedirect(res, pending.url.href, [
      serializeCookie(this.loginCookie, binding, { sameSite: 'Lax', maxAge: pendingLoginTtl }),
    ]);
  }

  private async callback(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const params = new URLSearchParams(query);
    const state = params.get('state');
    if (state === null || params.getAll('state').length !== 1) {
      sendError(res, 400, 'invalid_request', 'the callback needs exactly one state');
      return;
    }
    const now = this.clock();
    const key = `login:${sha256(state)}`;
    const stored = await this.store.take(key, now);
    const login = stored === undefined ? undefined : this.sealer.open<PendingLogin>(stored.data, key);
    const binding = readCookie(req, this.loginCookie);
    if (login === undefined || binding === undefined || !constantTimeEqual(sha256(binding), login.binding)) {
      sendError(res, 400, 'invalid_state', 'unknown, used, expired or foreign state: start the login again');
      return;
    }
    let tokens: Awaited<ReturnType<OAuthClient['handleCallback']>>;
    try {
      tokens = await this.client.handleCallback(`${this.baseOrigin}${this.basePath}/callback${query}`, {
        ...login.pending,
        url: new URL(this.baseOrigin),
      });
    } catch (error) {
      if (
        error instanceof OAuthResponseError &&
        login.prompt === 'none' &&
        interactionErrors.has(error.error)
      ) {
        // Silent login found no usable session at the server: back to the app, still anonymous.
        sendRedirect(res, login.returnUrl, [clearCookie(this.loginCookie, 'Lax')]);
        return;
      }
      if (error instanceof OAuthResponseError) {
        sendError(
          res,
          400,
          error.error,
          error.errorDescription ?? 'the authorization server refused the login',
        );
      } else if (error instanceof GatehouseClientError && isCallbackProblem(error.code)) {
        sendError(res, 400, 'invalid_callback', error.message);
      } else {
        sendError(res, 502, 'authorization_server_unavailable', describe(error));
      }
      return;
    }
    const claims = tokens.claims;
    if (claims === undefined || typeof claims.sub !== 'string') {
      sendError(res, 502, 'invalid_callback', 'the authorization server returned no ID Token');
      return;
    }
    // The ID Token may carry only `sub`; profile claims come from UserInfo (OpenID Connect Core §5.4).
    let userClaims: Record<string, unknown> = {};
    if ((await this.client.metadata()).userinfo_endpoint !== undefined) {
      try {
        userClaims = await this.client.userinfo(tokens.accessToken, {
          tokenType: tokens.tokenType,
          expectedSubject: claims.sub,
        });
      } catch (error) {
        sendError(res, 502, 'authorization_server_unavailable', describe(error));
        return;
      }
    }
    // Session fixation: whatever session id the browser had is dropped; a new one is issued.
    const previous = readCookie(req, this.cookieName);
    if (previous !== undefined) await this.store.delete(sessionKey(previous));
    const sessionId = randomToken();
    const data: SessionData = {
      sub: claims.sub,
      sid: typeof claims.sid === 'string' ? claims.sid : undefined,
      claims: Object.fromEntries(
        Object.entries({ ...claims, ...userClaims }).filter(([name]) => !protocolClaims.has(name)),
      ),
      idToken: tokens.idToken,
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      accessIssuedAt: now,
      accessExpiresAt: tokens.expiresAt ?? now + 300,
      refreshToken: tokens.refreshToken,
      scopes: (tokens.scope ?? this.scope).split(' ').filter((scope) => scope !== ''),
      createdAt: now,
      absoluteExpiresAt: now + this.absoluteTimeout,
    };
    const newKey = sessionKey(sessionId);
    const expiresAt = Math.min(now + this.idleTimeout, data.absoluteExpiresAt);
    await this.store.set(newKey, this.sealed(newKey, data, expiresAt));
    sendRedirect(res, login.returnUrl, [
      serializeCookie(this.cookieName, sessionId, { sameSite: this.sameSite, maxAge: this.absoluteTimeout }),
      clearCookie(this.loginCookie, 'Lax'),
    ]);
  }

  // ---- sessions -----------------------------------------------------------------------------------

  private sealed(key: string, data: SessionData, expiresAt: number): StoredRecord {
    return { data: this.sealer.seal(data, key), expiresAt, sub: data.sub, sid: data.sid };
  }

  /**
   * The browser's session, with its idle expiry slid forward. Sliding only moves the record's expiry
   * (`touch`, at most once a minute); it never writes session data back, so it cannot undo a refresh that
   * another request completed meanwhile.
   */
  async session(req: IncomingMessage): Promise<LoadedSession | undefined> {
    const id = readCookie(req, this.cookieName);
    if (id === undefined) return undefined;
    return this.loadSession(sessionKey(id));
  }

  private async loadSession(key: string): Promise<LoadedSession | undefined> {
    const now = this.clock();
    const record = await this.store.get(key, now);
    if (record === undefined) return undefined;
    const data = this.sealer.open<SessionData>(record.data, key);
    if (data === undefined || data.absoluteExpiresAt <= now) {
      await this.store.delete(key);
      return undefined;
    }
    const slid = Math.min(now + this.idleTimeout, data.absoluteExpiresAt);
    if (slid - record.expiresAt >= touchInterval) {
      await this.store.touch(key, slid);
      return { key, data, expiresAt: slid };
    }
    return { key, data, expiresAt: record.expiresAt };
  }

  /** The session with an access token that is not due for refresh; one refresh per session at a time. */
  private fresh(session: LoadedSession): Promise<SessionData> {
    if (!this.isDue(session.data)) return Promise.resolve(session.data);
    let flight = this.refreshing.get(session.key);
    if (flight === undefined) {
      flight = this.refresh(session.key);
      this.refreshing.set(session.key, flight);
      const started = flight;
      started
        .finally(() => {
          if (this.refreshing.get(session.key) === started) this.refreshing.delete(session.key);
        })
        .catch(() => {});
    }
    return flight;
  }

  private isDue(data: SessionData): boolean {
    const lifetime = Math.max(data.accessExpiresAt - data.accessIssuedAt, 0);
    const lead = Math.min(this.options.refreshBefore ?? 60, lifetime / 2);
    return this.clock() >= data.accessExpiresAt - lead;
  }

  /**
   * Refreshes under a lock in the store, so that two BFF nodes never refresh one session at once: with
   * refresh-token rotation the second would present a used refresh token, which the server treats as
   * theft and answers by revoking the whole grant (RFC 9700 §4.14.2). A node that finds the lock taken
   * waits for the other's result.
   */
  private async refresh(key: string): Promise<SessionData> {
    for (let polls = 0; ; polls++) {
      const current = (await this.loadSession(key))?.data;
      if (current === undefined) throw new LoginRequiredError('the session ended');
      if (!this.isDue(current)) return current;
      const locked = await this.withRefreshLock(key, () => this.refreshHoldingLock(key));
      if (locked !== undefined) return locked.result;
      if (polls >= refreshLockPolls) {
        if (this.clock() < current.accessExpiresAt) return current;
        throw new GatehouseClientError('timeout', 'another BFF node is still refreshing this session');
      }
      await sleep(refreshLockPollMs);
    }
  }

  /**
   * Runs `work` holding the session's refresh lock and resolves its result; resolves undefined without
   * running it when another request or node holds the lock. The lock expires by itself if its holder dies.
   */
  private async withRefreshLock<T>(key: string, work: () => Promise<T>): Promise<{ result: T } | undefined> {
    const lockKey = `refresh-lock:${key}`;
    const now = this.clock();
    if (!(await this.store.add(lockKey, { data: '1', expiresAt: now + refreshLockTtl }, now)))
      return undefined;
    try {
      return { result: await work() };
    } finally {
      await this.store.delete(lockKey).catch(() => {});
    }
  }

  private async refreshHoldingLock(key: string): Promise<SessionData> {
    const loaded = await this.loadSession(key);
    if (loaded === undefined) throw new LoginRequiredError('the session ended');
    const current = loaded.data;
    if (!this.isDue(current)) return current;
    if (current.refreshToken === undefined) {
      if (this.clock() < current.accessExpiresAt) return current;
      await this.store.delete(key);
      throw new LoginRequiredError('the access token expired and there is no refresh token');
    }
    let tokens: Awaited<ReturnType<OAuthClient['refresh']>>;
    try {
      tokens = await this.client.refresh(current.refreshToken);
    } catch (error) {
      if (error instanceof OAuthResponseError && error.error === 'invalid_grant') {
        await this.store.delete(key);
        throw new LoginRequiredError('the refresh token was refused; sign in again', { cause: error });
      }
      if (this.clock() < current.accessExpiresAt) return current;
      throw error;
    }
    const now = this.clock();
    const next: SessionData = {
      ...current,
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      accessIssuedAt: now,
      accessExpiresAt: tokens.expiresAt ?? now + 300,
      refreshToken: tokens.refreshToken ?? current.refreshToken,
      idToken: tokens.idToken ?? current.idToken,
      scopes:
        tokens.scope === undefined ? current.scopes : tokens.scope.split(' ').filter((scope) => scope !== ''),
    };
    // Only while the session exists: a logout or back-channel logout during the refresh stays in force.
    if (!(await this.store.replace(key, this.sealed(key, next, loaded.expiresAt)))) {
      throw new LoginRequiredError('the session ended');
    }
    return next;
  }

  /** Resolves the fresh session or answers the request (401 when it ended, 502 when the server is down). */
  private async freshOrAnswer(session: LoadedSession, res: ServerResponse): Promise<SessionData | undefined> {
    try {
      return await this.fresh(session);
    } catch (error) {
      if (error instanceof LoginRequiredError) {
        sendError(res, 401, 'login_required', 'the session has ended: sign in again', {
          'set-cookie': clearCookie(this.cookieName, this.sameSite),
        });
      } else {
        sendError(
          res,
          502,
          'token_refresh_failed',
          'the authorization server could not renew the access token',
        );
      }
      return undefined;
    }
  }

  private anonymous(res: ServerResponse): void {
    sendError(res, 401, 'login_required', 'not signed in');
  }

  // ---- user, logout -------------------------------------------------------------------------------

  private async user(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await this.session(req);
    if (session === undefined) return this.anonymous(res);
    const data = await this.freshOrAnswer(session, res);
    if (data === undefined) return;
    sendJson(res, 200, {
      sub: data.sub,
      claims: data.claims,
      scopes: data.scopes,
      session: { expiresAt: session.expiresAt, absoluteExpiresAt: data.absoluteExpiresAt },
    });
  }

  private async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await this.session(req);
    const cleared = { 'set-cookie': clearCookie(this.cookieName, this.sameSite) };
    if (session === undefined) {
      sendJson(res, 200, { location: this.postLogoutRedirectUri }, cleared);
      return;
    }
    await this.store.delete(session.key);
    const { refreshToken, idToken } = session.data;
    // Offline grants outlive the server's login session, so the refresh token is revoked here.
    if (refreshToken !== undefined) {
      await this.client.revoke(refreshToken, { tokenTypeHint: 'refresh_token' }).catch(() => {});
    }
    let endSession: URL;
    try {
      const request: { postLogoutRedirectUri: string; idTokenHint?: string } = {
        postLogoutRedirectUri: this.postLogoutRedirectUri,
      };
      if (idToken !== undefined) request.idTokenHint = idToken;
      endSession = await this.client.endSessionUrl(request);
    } catch {
      sendJson(res, 200, { location: this.postLogoutRedirectUri }, cleared);
      return;
    }
    const ticket = randomToken();
    const key = `logout:${sha256(ticket)}`;
    await this.store.set(key, {
      data: this.sealer.seal(endSession.href, key),
      expiresAt: this.clock() + logoutTicketTtl,
    });
    sendJson(res, 200, { location: `${this.basePath}/logout/continue?ticket=${ticket}` }, cleared);
  }

  private async continueLogout(res: ServerResponse, query: string): Promise<void> {
    const ticket = new URLSearchParams(query).get('ticket');
    const key = `logout:${sha256(ticket ?? '')}`;
    const record = ticket === null ? undefined : await this.store.take(key, this.clock());
    const location = record === undefined ? undefined : this.sealer.open<string>(record.data, key);
    if (location === undefined) {
      sendError(res, 400, 'invalid_request', 'unknown or used logout ticket');
      return;
    }
    sendRedirect(res, location);
  }

  // ---- back-channel logout ------------------------------------------------------------------------

  private async backchannel(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      sendError(res, 400, 'invalid_request', 'send logout_token as application/x-www-form-urlencoded');
      return;
    }
    const body = await readBody(req, 64 * 1024);
    if (body === undefined) {
      sendError(res, 413, 'invalid_request', 'the request body is too large');
      return;
    }
    const tokens = new URLSearchParams(body).getAll('logout_token');
    if (tokens.length !== 1 || tokens[0] === '') {
      sendError(res, 400, 'invalid_request', 'send exactly one logout_token');
      return;
    }
    let claims: Awaited<ReturnType<LogoutTokenValidator['validate']>>;
    try {
      claims = await this.logoutTokens.validate(tokens[0]!);
    } catch (error) {
      const description =
        error instanceof LogoutTokenError ? error.message : 'the logout token could not be checked';
      sendError(res, 400, 'invalid_request', description);
      return;
    }
    // Replays are refused (§2.6 step 7 allows it), with the store's atomic create-if-absent: of several
    // nodes receiving the same token at once, exactly one accepts it.
    const jtiKey = `jti:${sha256(claims.jti)}`;
    if (!(await this.store.add(jtiKey, { data: '1', expiresAt: claims.expiresAt }, this.clock()))) {
      sendError(res, 400, 'invalid_request', 'this logout token was used already');
      return;
    }
    if (claims.sid !== undefined) await this.store.deleteBySid(claims.sid);
    else if (claims.sub !== undefined) await this.store.deleteBySub(claims.sub);
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end();
  }

  // ---- API proxy ----------------------------------------------------------------------------------

  private async api(req: IncomingMessage, res: ServerResponse, rest: string, query: string): Promise<void> {
    const slash = rest.indexOf('/');
    const name = slash === -1 ? rest : rest.slice(0, slash);
    const api = this.apis.get(name);
    if (api === undefined) {
      sendError(res, 404, 'not_found', 'no API is configured under this name');
      return;
    }
    const target = upstreamUrl(api.url, slash === -1 ? '' : rest.slice(slash), query);
    if (target === undefined) {
      sendError(res, 400, 'invalid_request', 'the path leaves the API (dot segments or encoded separators)');
      return;
    }
    const session = await this.session(req);
    if (session === undefined) return this.anonymous(res);
    const missing = api.scopes.filter((scope) => !session.data.scopes.includes(scope));
    if (missing.length > 0) {
      sendError(res, 403, 'insufficient_scope', `the session lacks the scopes ${missing.join(' ')}`);
      return;
    }
    const data = await this.freshOrAnswer(session, res);
    if (data === undefined) return;
    const outcome = await proxy(
      req,
      res,
      target,
      { value: data.accessToken, type: data.tokenType },
      {
        timeout: api.timeout,
        dpop: this.options.dpop,
        now: this.clock(),
        base: api.url,
        publicPrefix: `${this.basePath}/api/${name}`,
      },
    );
    if (outcome.status === 401 && /(?:^|[\s,])error="invalid_token"/.test(outcome.wwwAuthenticate ?? '')) {
      // The API refused a token we thought valid (revoked, key rotated): refresh before the next call.
      // Under the refresh lock, so a refresh completing meanwhile is never overwritten; if another
      // request holds the lock, a refresh is under way anyway.
      await this.withRefreshLock(session.key, async () => {
        const latest = await this.loadSession(session.key);
        if (latest !== undefined && latest.data.accessToken === data.accessToken) {
          latest.data.accessExpiresAt = Math.min(latest.data.accessExpiresAt, this.clock());
          await this.store.replace(session.key, this.sealed(session.key, latest.data, latest.expiresAt));
        }
      });
    }
  }

  // ---- diagnostics --------------------------------------------------------------------------------

  private async diagnostics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await this.session(req);
    sendJson(
      res,
      200,
      diagnose(req, {
        baseUrl: this.baseOrigin,
        cookieName: this.cookieName,
        sameSite: this.sameSite,
        now: this.clock(),
        session: session?.data,
        sessionExpiresAt: session?.expiresAt,
        apis: [...this.apis].map(([apiName, api]) => ({ name: apiName, scopes: api.scopes })),
        due: session === undefined ? false : this.isDue(session.data),
      }),
    );
  }
}

function sessionKey(id: string): string {
  return `session:${sha256(id)}`;
}

function isCallbackProblem(code: string): boolean {
  return ['state_mismatch', 'issuer_mismatch', 'id_token_invalid', 'invalid_response'].includes(code);
}

/** A description safe to show: the client's own message names URLs and codes, never tokens. */
function describe(error: unknown): string {
  return error instanceof GatehouseClientError
    ? error.message
    : 'the authorization server could not be reached';
}

/** Creates a BFF; mount it with `bffMiddleware` (Express) or `bffPlugin` (Fastify). */
export function createBff(options: BffOptions): Bff {
  return new Bff(options);
}
