/**
 * Login and callback: the authorization code flow with PKCE (OAuth 2.1 §4.1, RFC 7636), pushed (RFC 9126)
 * when offered, through @gatehouse/client. `returnUrl` must be a local path, which closes the open
 * redirect; `prompt=none` is a top-level navigation, so no third-party cookies are needed. The callback's
 * `state` must belong to this browser's `__Host-` login cookie; `iss` is checked (RFC 9207), and UserInfo's
 * `sub` must match (Core §5.3.2). Every login gets a new session id (session fixation, ASVS V3.2.1).
 * `acr_values` and `max_age` are passed on (RFC 9470 step-up: the login URL the proxy hands the SPA when an
 * API asks for a stronger or more recent authentication).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthorizationRequestOptions,
  GatehouseClientError,
  type OAuthClient,
  OAuthResponseError,
  type PendingAuthorization,
  randomToken,
} from '@gatehouse/client';
import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { BffContext } from './context.ts';
import { clearCookie, readCookie, sendError, sendRedirect, serializeCookie, sha256 } from './http.ts';
import { type SessionData, type Sessions, sessionKey } from './session.ts';

/** A login between `GET login` and its callback (sealed in the store under its `state`). */
interface PendingLogin {
  pending: Omit<PendingAuthorization, 'url'>;
  /** SHA-256 of the login cookie of the browser that started it. */
  binding: string;
  returnUrl: string;
  prompt: 'none' | 'login' | undefined;
}

type CallbackTokens = Awaited<ReturnType<OAuthClient['handleCallback']>>;

/** Answers to `prompt=none` that mean "the user must interact" (OpenID Connect Core §3.1.2.6). */
const interactionErrors = new Set([
  'login_required',
  'interaction_required',
  'consent_required',
  'account_selection_required',
]);

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

export class LoginFlow {
  constructor(
    private readonly context: BffContext,
    private readonly sessions: Sessions,
  ) {}

  /** `GET login`: stores the pending request and sends the browser to the authorization server. */
  async login(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const { client, scope, loginCookie, store, sealer } = this.context;
    const params = new URLSearchParams(query);
    if (params.getAll('returnUrl').length > 1) {
      sendError(res, 400, 'invalid_request', 'returnUrl is repeated');
      return;
    }
    const returnUrl = localReturnUrl(params.get('returnUrl'), this.context.baseOrigin);
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
    // RFC 9470 step-up: the acr_values and max_age an API's challenge asked for (proxy.ts builds this URL).
    const acrValues = params.getAll('acr_values');
    const maxAges = params.getAll('max_age');
    if (
      acrValues.length > 1 ||
      maxAges.length > 1 ||
      (acrValues[0] !== undefined && !/^[\x21-\x7E]+( [\x21-\x7E]+)*$/.test(acrValues[0])) ||
      (acrValues[0]?.length ?? 0) > 512 ||
      (maxAges[0] !== undefined && !/^\d{1,9}$/.test(maxAges[0]))
    ) {
      sendError(res, 400, 'invalid_request', 'acr_values must be space-separated values and max_age seconds');
      return;
    }
    const options: AuthorizationRequestOptions = { scope };
    if (prompt !== undefined) options.prompt = prompt;
    if (acrValues[0] !== undefined) options.extra = { acr_values: acrValues[0] };
    if (maxAges[0] !== undefined) options.maxAge = Number(maxAges[0]);
    let pending: PendingAuthorization;
    try {
      pending = await client.authorizationRequest(options);
    } catch (error) {
      sendError(res, 502, 'authorization_server_unavailable', describe(error));
      return;
    }
    const binding = readCookie(req, loginCookie) ?? randomToken();
    const now = this.context.clock();
    const record: PendingLogin = {
      pending: {
        state: pending.state,
        nonce: pending.nonce,
        codeVerifier: pending.codeVerifier,
        redirectUri: pending.redirectUri,
        // The callback checks auth_time against it (OpenID Connect Core §3.1.2.1).
        ...(pending.maxAge === undefined ? {} : { maxAge: pending.maxAge }),
      },
      binding: sha256(binding),
      returnUrl,
      prompt,
    };
    const key = `login:${sha256(pending.state)}`;
    await store.set(key, { data: sealer.seal(record, key), expiresAt: now + pendingLoginTtl });
    sendRedirect(res, pending.url.href, [
      serializeCookie(loginCookie, binding, { sameSite: 'Lax', maxAge: pendingLoginTtl }),
    ]);
  }

  /** `GET callback`: completes the pending login of this browser and starts its session. */
  async callback(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const { client, baseOrigin, basePath, loginCookie } = this.context;
    const params = new URLSearchParams(query);
    const state = params.get('state');
    if (state === null || params.getAll('state').length !== 1) {
      sendError(res, 400, 'invalid_request', 'the callback needs exactly one state');
      return;
    }
    const now = this.context.clock();
    const login = await this.takePendingLogin(req, state, now);
    if (login === undefined) {
      sendError(res, 400, 'invalid_state', 'unknown, used, expired or foreign state: start the login again');
      return;
    }
    let tokens: CallbackTokens;
    try {
      tokens = await client.handleCallback(`${baseOrigin}${basePath}/callback${query}`, {
        ...login.pending,
        url: new URL(baseOrigin),
      });
    } catch (error) {
      answerCallbackError(res, error, login, loginCookie);
      return;
    }
    const claims = tokens.claims;
    if (claims === undefined || typeof claims.sub !== 'string') {
      sendError(res, 502, 'invalid_callback', 'the authorization server returned no ID Token');
      return;
    }
    // The ID Token may carry only `sub`; profile claims come from UserInfo (OpenID Connect Core §5.4).
    let userClaims: Record<string, unknown> = {};
    if ((await client.metadata()).userinfo_endpoint !== undefined) {
      try {
        userClaims = await client.userinfo(tokens.accessToken, {
          tokenType: tokens.tokenType,
          expectedSubject: claims.sub,
        });
      } catch (error) {
        sendError(res, 502, 'authorization_server_unavailable', describe(error));
        return;
      }
    }
    // Session fixation: whatever session id the browser had is dropped; a new one is issued.
    const previous = readCookie(req, this.context.cookieName);
    if (previous !== undefined) await this.sessions.end(sessionKey(previous));
    const data = this.sessionData(tokens, claims, claims.sub, userClaims, now);
    const sessionId = await this.sessions.start(data, now);
    sendRedirect(res, login.returnUrl, [this.sessions.cookie(sessionId), clearCookie(loginCookie, 'Lax')]);
  }

  /** The pending login of `state`, taken from the store, when it belongs to this browser's login cookie. */
  private async takePendingLogin(
    req: IncomingMessage,
    state: string,
    now: number,
  ): Promise<PendingLogin | undefined> {
    const key = `login:${sha256(state)}`;
    const stored = await this.context.store.take(key, now);
    const login = stored === undefined ? undefined : this.context.sealer.open<PendingLogin>(stored.data, key);
    const binding = readCookie(req, this.context.loginCookie);
    if (login === undefined || binding === undefined || !constantTimeEqual(sha256(binding), login.binding)) {
      return undefined;
    }
    return login;
  }

  /**
   * The new session's record: the tokens, the ID Token's `sub` and `sid`, and the user's claims (ID Token
   * and UserInfo) without the protocol's.
   */
  private sessionData(
    tokens: CallbackTokens,
    claims: NonNullable<CallbackTokens['claims']>,
    sub: string,
    userClaims: Record<string, unknown>,
    now: number,
  ): SessionData {
    return {
      sub,
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
      scopes: (tokens.scope ?? this.context.scope).split(' ').filter((scope) => scope !== ''),
      createdAt: now,
      absoluteExpiresAt: now + this.context.absoluteTimeout,
    };
  }
}

/**
 * Answers a callback the client refused: a silent login that needs the user returns to the app, an
 * error from the server is passed on, a response that fails the client's checks is `invalid_callback`.
 */
function answerCallbackError(
  res: ServerResponse,
  error: unknown,
  login: PendingLogin,
  loginCookie: string,
): void {
  if (error instanceof OAuthResponseError && login.prompt === 'none' && interactionErrors.has(error.error)) {
    // Silent login found no usable session at the server: back to the app, still anonymous.
    sendRedirect(res, login.returnUrl, [clearCookie(loginCookie, 'Lax')]);
    return;
  }
  if (error instanceof OAuthResponseError) {
    sendError(res, 400, error.error, error.errorDescription ?? 'the authorization server refused the login');
  } else if (error instanceof GatehouseClientError && isCallbackProblem(error.code)) {
    sendError(res, 400, 'invalid_callback', error.message);
  } else {
    sendError(res, 502, 'authorization_server_unavailable', describe(error));
  }
}

/** A local path of `origin`, or undefined (an absolute or protocol-relative URL, a backslash...). */
function localReturnUrl(value: string | null, origin: string): string | undefined {
  if (value === null || value === '') return '/';
  if (!value.startsWith('/') || value.startsWith('//') || /[\\\s\0]/.test(value) || value.length > 2048) {
    return undefined;
  }
  try {
    const url = new URL(value, origin);
    return url.origin === origin ? `${url.pathname}${url.search}${url.hash}` : undefined;
  } catch {
    return undefined;
  }
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
