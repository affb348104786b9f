/**
 * The BFF's options and their resolved form: every option is checked once here (a bad value throws a
 * TypeError naming it), and the parts of the BFF (login, sessions, logout, proxy) read the result.
 */
import {
  type ClientAuthentication,
  type Clock,
  type DPoPKey,
  type HttpOptions,
  OAuthClient,
  type ServerMetadata,
  systemClock,
} from '@gatehouse/client';
import { Sealer } from './seal.ts';
import { MemorySessionStore, type SessionStore } from './stores/store.ts';

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

/** An upstream API after its options were checked. */
export interface Upstream {
  url: URL;
  scopes: string[];
  timeout: number;
}

/** The checked options and the services every part of the BFF shares. */
export interface BffContext {
  readonly issuer: string;
  readonly clientId: string;
  /** The public origin, without a trailing slash. */
  readonly baseOrigin: string;
  /** The mount path, without a trailing slash. */
  readonly basePath: string;
  readonly client: OAuthClient;
  readonly store: SessionStore;
  readonly clock: Clock;
  /** Encrypts every record the BFF writes to the store. */
  readonly sealer: Sealer;
  /** The session cookie's name (`__Host-...`) and SameSite attribute. */
  readonly cookieName: string;
  readonly sameSite: 'Strict' | 'Lax';
  /** The cookie that binds a pending login to the browser that started it (always SameSite=Lax). */
  readonly loginCookie: string;
  /** Scopes asked at login. */
  readonly scope: string;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly refreshBefore: number;
  readonly postLogoutRedirectUri: string;
  readonly apis: ReadonlyMap<string, Upstream>;
  readonly dpop: DPoPKey | undefined;
  readonly diagnostics: boolean;
}

/** Checks `options` and builds the context; throws a TypeError naming the first bad option. */
export function createContext(options: BffOptions): BffContext {
  const base = new URL(options.baseUrl);
  if (base.pathname !== '/' || base.search !== '' || base.hash !== '') {
    throw new TypeError('baseUrl must be an origin, e.g. https://app.example.com');
  }
  const baseOrigin = base.origin;
  const basePath = (options.basePath ?? '/bff').replace(/\/$/, '');
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(basePath)) throw new TypeError('basePath must be a plain path');
  const clock = options.clock ?? systemClock;
  const sealer = new Sealer(options.secret);
  const cookieName = options.cookie?.name ?? '__Host-bff-session';
  if (!cookieName.startsWith('__Host-')) throw new TypeError('the cookie name must start with __Host-');
  const apis = upstreams(options.apis ?? {});
  const apiScopes = [...apis.values()].flatMap((api) => api.scopes);
  const scope =
    options.scope ?? [...new Set(['openid', 'profile', 'offline_access', ...apiScopes])].join(' ');
  return {
    issuer: options.issuer,
    clientId: options.clientId,
    baseOrigin,
    basePath,
    client: new OAuthClient(clientOptions(options, `${baseOrigin}${basePath}/callback`, clock)),
    store: options.store ?? new MemorySessionStore(),
    clock,
    sealer,
    cookieName,
    sameSite: options.cookie?.sameSite ?? 'Strict',
    loginCookie: `${cookieName}-login`,
    scope,
    idleTimeout: options.session?.idleTimeout ?? 8 * 3600,
    absoluteTimeout: options.session?.absoluteTimeout ?? 24 * 3600,
    refreshBefore: options.refreshBefore ?? 60,
    postLogoutRedirectUri: options.postLogoutRedirectUri ?? `${baseOrigin}/`,
    apis,
    dpop: options.dpop,
    diagnostics: options.diagnostics === true,
  };
}

/** The configured APIs; a name must be one path segment and a URL must have no query or fragment. */
function upstreams(routes: Record<string, ApiRoute>): Map<string, Upstream> {
  const apis = new Map<string, Upstream>();
  for (const [name, api] of Object.entries(routes)) {
    if (!/^[A-Za-z0-9._~-]+$/.test(name)) throw new TypeError(`API name "${name}" must be one path segment`);
    const url = new URL(api.url);
    if (url.search !== '' || url.hash !== '') throw new TypeError(`API ${name}: url must have no query`);
    apis.set(name, { url, scopes: api.scopes ?? [], timeout: api.timeout ?? 30_000 });
  }
  return apis;
}

/** The OAuthClient's options: only those the BFF's caller set, so the client's defaults apply otherwise. */
function clientOptions(
  options: BffOptions,
  redirectUri: string,
  clock: Clock,
): ConstructorParameters<typeof OAuthClient>[0] {
  const result: ConstructorParameters<typeof OAuthClient>[0] = {
    issuer: options.issuer,
    clientId: options.clientId,
    redirectUri,
    clock,
  };
  if (options.clientAuthentication !== undefined) result.clientAuthentication = options.clientAuthentication;
  if (options.dpop !== undefined) result.dpop = options.dpop;
  if (options.par !== undefined) result.par = options.par;
  if (options.metadata !== undefined) result.metadata = options.metadata;
  if (options.http !== undefined) result.http = options.http;
  if (options.jwksMaxAge !== undefined) result.jwksMaxAge = options.jwksMaxAge;
  return result;
}
