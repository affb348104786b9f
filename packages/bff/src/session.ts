/**
 * Sessions and token refresh: a sealed record under the SHA-256 of the cookie, with a sliding idle expiry
 * and a fixed absolute one. The access token is refreshed before it expires, one refresh per session at a
 * time across processes and nodes (a lock in the shared store), since with rotation a second refresh would
 * be taken for refresh-token theft. `invalid_grant` ends the session with 401, so the SPA shows its login.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GatehouseClientError,
  LoginRequiredError,
  type OAuthClient,
  OAuthResponseError,
  randomToken,
} from '@gatehouse/client';
import type { BffContext } from './context.ts';
import { clearCookie, readCookie, sendError, serializeCookie, sha256 } from './http.ts';
import type { StoredRecord } from './stores/store.ts';

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

/** A session read from the store: its store key, its data and its current idle expiry. */
export interface LoadedSession {
  key: string;
  data: SessionData;
  expiresAt: number;
}

type RefreshedTokens = Awaited<ReturnType<OAuthClient['refresh']>>;

/** Seconds between two moves of a session's idle expiry. */
const touchInterval = 60;
/** Seconds a refresh lock lives if its holder dies (by the BFF's clock). */
const refreshLockTtl = 30;
/** How long a node waits for another node's refresh: 150 polls of 100 ms. */
const refreshLockPolls = 150;
const refreshLockPollMs = 100;

/** The store key of the session whose cookie value is `id`. */
export function sessionKey(id: string): string {
  return `session:${sha256(id)}`;
}

/** 401 `login_required` for a request without a session. */
export function sendAnonymous(res: ServerResponse): void {
  sendError(res, 401, 'login_required', 'not signed in');
}

export class Sessions {
  private readonly refreshing = new Map<string, Promise<SessionData>>();

  constructor(private readonly context: BffContext) {}

  /**
   * The browser's session, with its idle expiry slid forward. Sliding only moves the record's expiry
   * (`touch`, at most once a minute); it never writes session data back, so it cannot undo a refresh that
   * another request completed meanwhile.
   */
  async fromRequest(req: IncomingMessage): Promise<LoadedSession | undefined> {
    const id = readCookie(req, this.context.cookieName);
    if (id === undefined) return undefined;
    return this.load(sessionKey(id));
  }

  /** Stores a new session that began at `now` under a fresh id, and resolves the id (the cookie value). */
  async start(data: SessionData, now: number): Promise<string> {
    const sessionId = randomToken();
    const key = sessionKey(sessionId);
    const expiresAt = Math.min(now + this.context.idleTimeout, data.absoluteExpiresAt);
    await this.context.store.set(key, this.sealed(key, data, expiresAt));
    return sessionId;
  }

  /** Deletes the session stored under `key`. */
  async end(key: string): Promise<void> {
    await this.context.store.delete(key);
  }

  /** The Set-Cookie line that gives the browser session `id`. */
  cookie(id: string): string {
    const { cookieName, sameSite, absoluteTimeout } = this.context;
    return serializeCookie(cookieName, id, { sameSite, maxAge: absoluteTimeout });
  }

  /** The Set-Cookie line that deletes the session cookie. */
  clearedCookie(): string {
    return clearCookie(this.context.cookieName, this.context.sameSite);
  }

  /** Whether the access token is within `refreshBefore` (at most half its lifetime) of its expiry. */
  isDue(data: SessionData): boolean {
    const lifetime = Math.max(data.accessExpiresAt - data.accessIssuedAt, 0);
    const lead = Math.min(this.context.refreshBefore, lifetime / 2);
    return this.context.clock() >= data.accessExpiresAt - lead;
  }

  /** Resolves the fresh session or answers the request (401 when it ended, 502 when the server is down). */
  async freshOrAnswer(session: LoadedSession, res: ServerResponse): Promise<SessionData | undefined> {
    try {
      return await this.fresh(session);
    } catch (error) {
      if (error instanceof LoginRequiredError) {
        sendError(res, 401, 'login_required', 'the session has ended: sign in again', {
          'set-cookie': this.clearedCookie(),
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

  /**
   * Marks the session's access token as expired when it is still `accessToken`, so that the next call
   * refreshes first (an API refused it with `invalid_token`, RFC 6750 §3.1). Under the refresh lock, so a
   * refresh completing meanwhile is never overwritten; if another request holds the lock, a refresh is
   * under way anyway.
   */
  async expireAccessToken(key: string, accessToken: string): Promise<void> {
    await this.withRefreshLock(key, async () => {
      const latest = await this.load(key);
      if (latest !== undefined && latest.data.accessToken === accessToken) {
        latest.data.accessExpiresAt = Math.min(latest.data.accessExpiresAt, this.context.clock());
        await this.context.store.replace(key, this.sealed(key, latest.data, latest.expiresAt));
      }
    });
  }

  private sealed(key: string, data: SessionData, expiresAt: number): StoredRecord {
    return { data: this.context.sealer.seal(data, key), expiresAt, sub: data.sub, sid: data.sid };
  }

  private async load(key: string): Promise<LoadedSession | undefined> {
    const { store, sealer, clock, idleTimeout } = this.context;
    const now = clock();
    const record = await store.get(key, now);
    if (record === undefined) return undefined;
    const data = sealer.open<SessionData>(record.data, key);
    if (data === undefined || data.absoluteExpiresAt <= now) {
      await store.delete(key);
      return undefined;
    }
    const slid = Math.min(now + idleTimeout, data.absoluteExpiresAt);
    if (slid - record.expiresAt >= touchInterval) {
      await store.touch(key, slid);
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

  /**
   * Refreshes under a lock in the store, so that two BFF nodes never refresh one session at once: with
   * refresh-token rotation the second would present a used refresh token, which the server treats as
   * theft and answers by revoking the whole grant (RFC 9700 §4.14.2). A node that finds the lock taken
   * waits for the other's result.
   */
  private async refresh(key: string): Promise<SessionData> {
    for (let polls = 0; ; polls++) {
      const current = (await this.load(key))?.data;
      if (current === undefined) throw new LoginRequiredError('the session ended');
      if (!this.isDue(current)) return current;
      const locked = await this.withRefreshLock(key, () => this.refreshHoldingLock(key));
      if (locked !== undefined) return locked.result;
      if (polls >= refreshLockPolls) {
        if (this.context.clock() < current.accessExpiresAt) return current;
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
    const { store, clock } = this.context;
    const lockKey = `refresh-lock:${key}`;
    const now = clock();
    if (!(await store.add(lockKey, { data: '1', expiresAt: now + refreshLockTtl }, now))) return undefined;
    try {
      return { result: await work() };
    } finally {
      await store.delete(lockKey).catch(() => {});
    }
  }

  private async refreshHoldingLock(key: string): Promise<SessionData> {
    const { store, client, clock } = this.context;
    const loaded = await this.load(key);
    if (loaded === undefined) throw new LoginRequiredError('the session ended');
    const current = loaded.data;
    if (!this.isDue(current)) return current;
    if (current.refreshToken === undefined) {
      if (clock() < current.accessExpiresAt) return current;
      await store.delete(key);
      throw new LoginRequiredError('the access token expired and there is no refresh token');
    }
    let tokens: RefreshedTokens;
    try {
      tokens = await client.refresh(current.refreshToken);
    } catch (error) {
      if (error instanceof OAuthResponseError && error.error === 'invalid_grant') {
        await store.delete(key);
        throw new LoginRequiredError('the refresh token was refused; sign in again', { cause: error });
      }
      if (clock() < current.accessExpiresAt) return current;
      throw error;
    }
    const next = refreshed(current, tokens, clock());
    // Only while the session exists: a logout or back-channel logout during the refresh stays in force.
    if (!(await store.replace(key, this.sealed(key, next, loaded.expiresAt)))) {
      throw new LoginRequiredError('the session ended');
    }
    return next;
  }
}

/** The session after a refresh: new tokens, and the old refresh token, ID Token or scopes where none came. */
function refreshed(current: SessionData, tokens: RefreshedTokens, now: number): SessionData {
  return {
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
}
