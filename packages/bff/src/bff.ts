/**
 * The backend-for-frontend: a single-page app signs in through it and holds only one HttpOnly cookie;
 * tokens stay server-side and the proxy attaches them to API calls. This module routes (under `basePath`)
 * to login.ts, logout.ts, backchannel.ts, proxy.ts and session.ts, and answers `GET user`.
 *
 * CSRF: every endpoint but the navigations and the back-channel call requires `X-CSRF: 1`, which a
 * cross-site page cannot add without a CORS preflight this BFF never grants. It is checked before the
 * session is looked at, so a forged request never reaches an upstream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthClient } from '@gatehouse/client';
import { BackchannelLogout } from './backchannel.ts';
import { type BffContext, type BffOptions, createContext } from './context.ts';
import { diagnose } from './diagnostics.ts';
import { sendError, sendJson } from './http.ts';
import { LoginFlow } from './login.ts';
import { RpLogout } from './logout.ts';
import { ApiProxy } from './proxy.ts';
import { type LoadedSession, Sessions, sendAnonymous } from './session.ts';
import type { SessionStore } from './stores/store.ts';

export class Bff {
  readonly basePath: string;
  readonly client: OAuthClient;
  readonly store: SessionStore;
  private readonly context: BffContext;
  private readonly sessions: Sessions;
  private readonly logins: LoginFlow;
  private readonly logouts: RpLogout;
  private readonly backchannel: BackchannelLogout;
  private readonly apis: ApiProxy;
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(options: BffOptions) {
    const context = createContext(options);
    this.context = context;
    this.basePath = context.basePath;
    this.client = context.client;
    this.store = context.store;
    this.sessions = new Sessions(context);
    this.logins = new LoginFlow(context, this.sessions);
    this.logouts = new RpLogout(context, this.sessions);
    this.backchannel = new BackchannelLogout(context);
    this.apis = new ApiProxy(context, this.sessions);
    const sweepInterval = options.sweepInterval ?? 300;
    if (sweepInterval > 0) {
      this.sweeper = setInterval(() => {
        this.store.sweep(context.clock()).catch(() => {});
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

  /**
   * The browser's session, with its idle expiry slid forward (see `Sessions.fromRequest`); undefined
   * when the request carries no live session.
   */
  session(req: IncomingMessage): Promise<LoadedSession | undefined> {
    return this.sessions.fromRequest(req);
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
      if (only('GET')) await this.logins.login(req, res, query);
      return;
    }
    if (path === '/callback') {
      if (only('GET')) await this.logins.callback(req, res, query);
      return;
    }
    if (path === '/logout/continue') {
      if (only('GET')) await this.logouts.continue(res, query);
      return;
    }
    if (path === '/backchannel') {
      if (only('POST')) await this.backchannel.handle(req, res);
      return;
    }
    if (path === '/diagnostics' && this.context.diagnostics) {
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
      if (only('POST')) await this.logouts.logout(req, res);
    } else {
      await this.apis.handle(req, res, path.slice('/api/'.length), query);
    }
  }

  /** `GET user`: the user's claims and scopes, and when the session ends. */
  private async user(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await this.sessions.fromRequest(req);
    if (session === undefined) return sendAnonymous(res);
    const data = await this.sessions.freshOrAnswer(session, res);
    if (data === undefined) return;
    sendJson(res, 200, {
      sub: data.sub,
      claims: data.claims,
      scopes: data.scopes,
      session: { expiresAt: session.expiresAt, absoluteExpiresAt: data.absoluteExpiresAt },
    });
  }

  /** `GET diagnostics`: see diagnostics.ts; never shows a token or a cookie value. */
  private async diagnostics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { baseOrigin, cookieName, sameSite, clock, apis } = this.context;
    const session = await this.sessions.fromRequest(req);
    sendJson(
      res,
      200,
      diagnose(req, {
        baseUrl: baseOrigin,
        cookieName,
        sameSite,
        now: clock(),
        session: session?.data,
        sessionExpiresAt: session?.expiresAt,
        apis: [...apis].map(([apiName, api]) => ({ name: apiName, scopes: api.scopes })),
        due: session === undefined ? false : this.sessions.isDue(session.data),
      }),
    );
  }
}

/** Creates a BFF; mount it with `bffMiddleware` (Express) or `bffPlugin` (Fastify). */
export function createBff(options: BffOptions): Bff {
  return new Bff(options);
}
