/**
 * The token manager: client-credentials tokens (OAuth 2.1 §4.2) cached per scope and resource (RFC 8707)
 * and renewed ahead of expiry with jitter, so a fleet started together does not renew together; a user
 * session refreshed before expiry (OAuth 2.1 §4.3), saving the rotated pair in one `save` (RFC 9700
 * §4.14.2), and cleared with {@link LoginRequiredError} on `invalid_grant`. Concurrent callers share one
 * request, and a token passed back as `rejected` (RFC 6750 §3.1) is renewed only if still current.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from './clock.ts';
import { GatehouseClientError, LoginRequiredError, OAuthResponseError } from './errors.ts';
import type { OAuthClient } from './oauth-client.ts';
import type { TokenSet } from './token-endpoint.ts';

/** An access token ready to send. */
export interface AccessToken {
  value: string;
  /** `Bearer` or `DPoP`. */
  type: string;
  expiresAt: number;
}

/** Something that hands out a current access token (see {@link authenticatedFetch}). */
export interface AccessTokenSource {
  /**
   * A current token. `rejected`: a token a resource server refused; a new one is obtained unless the
   * current token is already a different one.
   */
  getAccessToken(options?: { rejected?: string; signal?: AbortSignal }): Promise<AccessToken>;
}

/** A signed-in user's tokens, as stored. */
export interface UserSession {
  accessToken: string;
  tokenType: string;
  expiresAt: number;
  /** When the manager renews the access token (expiry minus lead and jitter). */
  renewAt: number;
  refreshToken: string | undefined;
  idToken: string | undefined;
  scope: string | undefined;
}

/** Where a user session lives. `save` must replace the whole session at once. */
export interface SessionStore {
  load(): Promise<UserSession | undefined>;
  save(session: UserSession | undefined): Promise<void>;
}

/** Keeps the session in memory. */
export class MemorySessionStore implements SessionStore {
  private session: UserSession | undefined;

  async load(): Promise<UserSession | undefined> {
    return this.session;
  }

  async save(session: UserSession | undefined): Promise<void> {
    this.session = session;
  }
}

/**
 * Keeps the session in a JSON file readable only by its owner, written to a temporary file and renamed
 * over the old one, so a crash leaves either the old session or the new one.
 */
export class FileSessionStore implements SessionStore {
  constructor(private readonly path: string) {}

  async load(): Promise<UserSession | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as UserSession;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async save(session: UserSession | undefined): Promise<void> {
    if (session === undefined) {
      await rm(this.path, { force: true });
      return;
    }
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temporary, JSON.stringify(session), { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, this.path);
  }
}

export interface TokenManagerOptions {
  clock?: Clock;
  /** Seconds before expiry to renew; default 30. */
  renewBefore?: number;
  /** Up to this many more seconds, chosen at random per token; default 10. */
  jitter?: number;
  /** Random source in [0, 1) for the jitter; default Math.random. */
  random?: () => number;
  /** Where the user session is kept; default in memory. */
  store?: SessionStore;
  /** Lifetime assumed when the server gives no expires_in; default 300 seconds. */
  defaultLifetime?: number;
}

interface CachedToken extends AccessToken {
  renewAt: number;
}

/** Client-credentials tokens and a user session, renewed ahead of expiry with single flight. */
export class TokenManager {
  private readonly clock: Clock;
  private readonly store: SessionStore;
  private readonly cache = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<CachedToken>>();
  private refreshInFlight: Promise<UserSession> | undefined;

  constructor(
    private readonly client: OAuthClient,
    private readonly options: TokenManagerOptions = {},
  ) {
    this.clock = options.clock ?? client.clock;
    this.store = options.store ?? new MemorySessionStore();
  }

  /** Expiry and renewal instants for a token just received. */
  private timing(tokens: TokenSet): { expiresAt: number; renewAt: number } {
    const now = this.clock();
    const expiresAt = tokens.expiresAt ?? now + (this.options.defaultLifetime ?? 300);
    const random = this.options.random ?? Math.random;
    const lead = (this.options.renewBefore ?? 30) + random() * (this.options.jitter ?? 10);
    const lifetime = Math.max(expiresAt - now, 0);
    return { expiresAt, renewAt: expiresAt - Math.min(lead, lifetime / 2) };
  }

  /**
   * A client-credentials token for `scope` and `resource`, from the cache while it is fresh. If renewal
   * fails while the cached token has not expired yet, the cached token is returned.
   */
  async clientCredentialsToken(
    options: { scope?: string; resource?: string | string[]; rejected?: string; signal?: AbortSignal } = {},
  ): Promise<AccessToken> {
    const resources =
      typeof options.resource === 'string' ? [options.resource] : [...(options.resource ?? [])];
    const key = JSON.stringify([options.scope ?? '', resources.sort()]);
    const cached = this.cache.get(key);
    const now = this.clock();
    if (cached !== undefined && now < cached.renewAt && cached.value !== options.rejected)
      return publicToken(cached);
    let flight = this.inFlight.get(key);
    if (flight === undefined) {
      flight = (async () => {
        const request: { scope?: string; resource?: string[] } = {};
        if (options.scope !== undefined) request.scope = options.scope;
        if (resources.length > 0) request.resource = resources;
        const tokens = await this.client.clientCredentials(request);
        const entry: CachedToken = {
          value: tokens.accessToken,
          type: tokens.tokenType,
          ...this.timing(tokens),
        };
        this.cache.set(key, entry);
        return entry;
      })();
      this.inFlight.set(key, flight);
      flight
        .finally(() => {
          if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
        })
        .catch(() => {});
    }
    try {
      return publicToken(await abandonable(flight, options.signal));
    } catch (error) {
      const stillValid =
        cached !== undefined && this.clock() < cached.expiresAt && cached.value !== options.rejected;
      const fatal =
        (error instanceof OAuthResponseError && error.error === 'invalid_client') ||
        (error instanceof GatehouseClientError && error.code === 'aborted');
      if (stillValid && !fatal) {
        return publicToken(cached);
      }
      throw error;
    }
  }

  /** A token source for {@link authenticatedFetch} that uses client credentials. */
  clientCredentials(options: { scope?: string; resource?: string | string[] } = {}): AccessTokenSource {
    return {
      getAccessToken: (request = {}) => this.clientCredentialsToken({ ...options, ...request }),
    };
  }

  /** Stores a user's tokens after login (from `handleCallback`, the device flow or the loopback flow). */
  async startSession(tokens: TokenSet): Promise<UserSession> {
    const session: UserSession = {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      ...this.timing(tokens),
      refreshToken: tokens.refreshToken,
      idToken: tokens.idToken,
      scope: tokens.scope,
    };
    await this.store.save(session);
    return session;
  }

  /** The stored session, if any. */
  session(): Promise<UserSession | undefined> {
    return this.store.load();
  }

  /** Forgets the session; with `revoke`, revokes its refresh token at the server first (RFC 7009). */
  async endSession(options: { revoke?: boolean } = {}): Promise<void> {
    const session = await this.store.load();
    if (options.revoke && session?.refreshToken !== undefined) {
      await this.client.revoke(session.refreshToken, { tokenTypeHint: 'refresh_token' });
    }
    await this.store.save(undefined);
  }

  /**
   * The user's access token, refreshed first when it is due (or was `rejected`). Throws
   * {@link LoginRequiredError} when there is no session or the refresh token was refused.
   */
  async userAccessToken(options: { rejected?: string; signal?: AbortSignal } = {}): Promise<AccessToken> {
    const session = await this.store.load();
    if (session === undefined) throw new LoginRequiredError('no user session');
    if (this.clock() < session.renewAt && session.accessToken !== options.rejected)
      return sessionToken(session);
    if (this.refreshInFlight === undefined) {
      const flight = this.refreshSession(options.rejected);
      this.refreshInFlight = flight;
      flight
        .finally(() => {
          if (this.refreshInFlight === flight) this.refreshInFlight = undefined;
        })
        .catch(() => {});
    }
    return sessionToken(await abandonable(this.refreshInFlight, options.signal));
  }

  /** A token source for {@link authenticatedFetch} that uses the user session. */
  userTokens(): AccessTokenSource {
    return { getAccessToken: (options) => this.userAccessToken(options) };
  }

  private async refreshSession(rejected: string | undefined): Promise<UserSession> {
    const current = await this.store.load();
    if (current === undefined) throw new LoginRequiredError('no user session');
    if (this.clock() < current.renewAt && current.accessToken !== rejected) return current;
    if (current.refreshToken === undefined) {
      if (this.clock() < current.expiresAt && current.accessToken !== rejected) return current;
      await this.store.save(undefined);
      throw new LoginRequiredError('the access token expired and there is no refresh token');
    }
    let tokens: TokenSet;
    try {
      tokens = await this.client.refresh(current.refreshToken);
    } catch (error) {
      if (error instanceof OAuthResponseError && error.error === 'invalid_grant') {
        await this.store.save(undefined);
        throw new LoginRequiredError('the refresh token was refused; sign in again', { cause: error });
      }
      if (
        error instanceof GatehouseClientError &&
        this.clock() < current.expiresAt &&
        current.accessToken !== rejected
      ) {
        return current;
      }
      throw error;
    }
    const next: UserSession = {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      ...this.timing(tokens),
      refreshToken: tokens.refreshToken ?? current.refreshToken,
      idToken: tokens.idToken ?? current.idToken,
      scope: tokens.scope ?? current.scope,
    };
    await this.store.save(next);
    return next;
  }
}

/**
 * Waits for a shared request, or stops waiting when this caller's `signal` aborts. The request itself
 * goes on for the other callers sharing it.
 */
function abandonable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted)
    return Promise.reject(new GatehouseClientError('aborted', 'stopped waiting for a token'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new GatehouseClientError('aborted', 'stopped waiting for a token'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function publicToken(token: CachedToken): AccessToken {
  return { value: token.value, type: token.type, expiresAt: token.expiresAt };
}

function sessionToken(session: UserSession): AccessToken {
  return { value: session.accessToken, type: session.tokenType, expiresAt: session.expiresAt };
}
