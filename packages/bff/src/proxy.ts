/**
 * The API proxy: `/bff/api/<name>/<path>` goes to the configured upstream with the user's access token
 * (RFC 6750 §2.1 Bearer, or RFC 9449 §7.1 DPoP with `ath`), streamed both ways. Dot segments and encoded
 * `.`, `/`, `\` or NUL are refused so the path cannot leave the upstream's base (RFC 3986 §5.2.4). The
 * browser's cookie, CSRF, Authorization, DPoP, Host and hop-by-hop headers (RFC 9110 §7.6.1) are dropped;
 * responses pass an allow-list, never `Set-Cookie`, and a `Location` is rewritten or dropped. Error bodies
 * never carry the token or the upstream's address. An upstream `invalid_token` (RFC 6750 §3.1) makes the
 * next call refresh first. An upstream RFC 9470 `insufficient_user_authentication` challenge is answered
 * with 401 JSON the SPA can act on: the challenge's `acr_values` and `max_age`, and `login_url`, the BFF's
 * login with them (the browser goes there, signs in with the stronger factor, and the call is retried).
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { accessTokenHeaders, type DPoPKey, GatehouseClientError, stepUpChallenge } from '@gatehouse/client';
import type { BffContext } from './context.ts';
import { sendError } from './http.ts';
import { type Sessions, sendAnonymous } from './session.ts';

/** Browser request headers never forwarded: credentials, the CSRF header, hop-by-hop headers. */
const droppedRequestHeaders = new Set([
  'cookie',
  'x-csrf',
  'authorization',
  'dpop',
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

const forwardedResponseHeaders = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'content-disposition',
  'accept-ranges',
  'cache-control',
  'etag',
  'expires',
  'last-modified',
  'location',
  'retry-after',
  'vary',
  'www-authenticate',
  'x-request-id',
]);

/**
 * The upstream URL for `rawPath` (still percent-encoded, starting after the API name) and `query`, or
 * undefined when the path tries to leave the upstream's base path.
 */
export function upstreamUrl(base: URL, rawPath: string, query: string): URL | undefined {
  if (rawPath !== '' && !rawPath.startsWith('/')) return undefined;
  if (/%(2e|2f|5c|00)/i.test(rawPath) || /[\\\s\0]/.test(rawPath)) return undefined;
  const segments = rawPath.split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) return undefined;
  const basePath = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  let target: URL;
  try {
    target = new URL(`${base.origin}${basePath}${rawPath}${query}`);
  } catch {
    return undefined;
  }
  const inside = target.pathname === basePath || target.pathname.startsWith(`${basePath}/`);
  return target.origin === base.origin && inside ? target : undefined;
}

/** The browser-facing form of an upstream `Location`, or undefined when it points outside the API. */
export function publicLocation(
  location: string,
  target: URL,
  base: URL,
  publicPrefix: string,
): string | undefined {
  let resolved: URL;
  try {
    resolved = new URL(location, target);
  } catch {
    return undefined;
  }
  const basePath = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  if (resolved.origin !== base.origin) return undefined;
  if (resolved.pathname !== basePath && !resolved.pathname.startsWith(`${basePath}/`)) return undefined;
  return `${publicPrefix}${resolved.pathname.slice(basePath.length)}${resolved.search}`;
}

export interface ProxyToken {
  value: string;
  /** `Bearer` or `DPoP`. */
  type: string;
}

export interface ProxyOptions {
  /** Milliseconds without progress (connecting, waiting for headers, streaming) before giving up. */
  timeout: number;
  dpop: DPoPKey | undefined;
  now: number;
  /** The upstream's base URL and the BFF path that maps onto it, for `Location` rewriting. */
  base: URL;
  publicPrefix: string;
  /** The BFF login path (`<basePath>/login`), for the step-up answer's `login_url`. */
  loginPath: string;
}

/** What the upstream answered, for the caller's bookkeeping (a rejected token, metrics). */
export interface ProxyOutcome {
  status: number | undefined;
  wwwAuthenticate: string | undefined;
}

export async function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  target: URL,
  token: ProxyToken,
  options: ProxyOptions,
): Promise<ProxyOutcome> {
  const headers: Record<string, string | string[]> = {};
  const connectionTokens = (req.headers.connection ?? '').split(',').map((name) => name.trim().toLowerCase());
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || droppedRequestHeaders.has(name) || connectionTokens.includes(name)) continue;
    headers[name] = value;
  }
  const method = (req.method ?? 'GET').toUpperCase();
  try {
    Object.assign(
      headers,
      await accessTokenHeaders(token, options.dpop, { method, url: target, now: options.now }),
    );
  } catch (error) {
    if (!(error instanceof GatehouseClientError && error.code === 'unsupported')) throw error;
    sendError(
      res,
      500,
      'server_error',
      'a DPoP-bound token needs the BFF to be configured with its DPoP key',
    );
    return { status: undefined, wwwAuthenticate: undefined };
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<ProxyOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: ProxyOutcome) => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const upstream = send(target, { method, headers });
    upstream.setTimeout(options.timeout, () => {
      upstream.destroy(new Error('upstream timeout'));
      if (!res.headersSent) sendError(res, 504, 'upstream_timeout', 'the API did not answer in time');
      else res.destroy();
      finish({ status: undefined, wwwAuthenticate: undefined });
    });
    upstream.on('error', () => {
      if (settled) return;
      if (!res.headersSent) sendError(res, 502, 'upstream_unreachable', 'the API could not be reached');
      else res.destroy();
      finish({ status: undefined, wwwAuthenticate: undefined });
    });
    upstream.on('response', (answer) => {
      const forwarded: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && forwardedResponseHeaders.has(name)) forwarded[name] = value;
      }
      if (typeof answer.headers.location === 'string') {
        const location = publicLocation(answer.headers.location, target, options.base, options.publicPrefix);
        if (location === undefined) delete forwarded.location;
        else forwarded.location = location;
      }
      const nonce = answer.headers['dpop-nonce'];
      if (options.dpop !== undefined && typeof nonce === 'string')
        options.dpop.nonces.set(target.origin, nonce);
      const challenge = answer.headers['www-authenticate'];
      const stepUp =
        answer.statusCode === 401 && typeof challenge === 'string' ? stepUpChallenge(challenge) : undefined;
      if (stepUp !== undefined) {
        answer.resume();
        const query = new URLSearchParams();
        if (stepUp.acrValues !== undefined) query.set('acr_values', stepUp.acrValues);
        if (stepUp.maxAge !== undefined) query.set('max_age', String(stepUp.maxAge));
        const body: Record<string, unknown> = {
          error: 'insufficient_user_authentication',
          error_description: 'the API asks for a stronger or more recent sign-in',
          login_url: `${options.loginPath}?${query.toString()}`,
        };
        if (stepUp.acrValues !== undefined) body.acr_values = stepUp.acrValues;
        if (stepUp.maxAge !== undefined) body.max_age = stepUp.maxAge;
        const payload = JSON.stringify(body);
        res.writeHead(401, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          'www-authenticate': challenge as string,
          'content-length': Buffer.byteLength(payload),
        });
        res.end(payload);
        finish({ status: 401, wwwAuthenticate: challenge as string });
        return;
      }
      res.writeHead(answer.statusCode ?? 502, forwarded);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      finish({
        status: answer.statusCode,
        wwwAuthenticate: typeof challenge === 'string' ? challenge : undefined,
      });
    });
    // The browser went away: stop the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
}

/** `<basePath>/api/<name>/...`: the session's calls to the configured upstream APIs. */
export class ApiProxy {
  constructor(
    private readonly context: BffContext,
    private readonly sessions: Sessions,
  ) {}

  /** Proxies one call; `rest` is the raw path after `/api/`, `query` the raw query with its `?`. */
  async handle(req: IncomingMessage, res: ServerResponse, rest: string, query: string): Promise<void> {
    const slash = rest.indexOf('/');
    const name = slash === -1 ? rest : rest.slice(0, slash);
    const api = this.context.apis.get(name);
    if (api === undefined) {
      sendError(res, 404, 'not_found', 'no API is configured under this name');
      return;
    }
    const target = upstreamUrl(api.url, slash === -1 ? '' : rest.slice(slash), query);
    if (target === undefined) {
      sendError(res, 400, 'invalid_request', 'the path leaves the API (dot segments or encoded separators)');
      return;
    }
    const session = await this.sessions.fromRequest(req);
    if (session === undefined) return sendAnonymous(res);
    const missing = api.scopes.filter((scope) => !session.data.scopes.includes(scope));
    if (missing.length > 0) {
      sendError(res, 403, 'insufficient_scope', `the session lacks the scopes ${missing.join(' ')}`);
      return;
    }
    const data = await this.sessions.freshOrAnswer(session, res);
    if (data === undefined) return;
    const outcome = await proxy(
      req,
      res,
      target,
      { value: data.accessToken, type: data.tokenType },
      {
        timeout: api.timeout,
        dpop: this.context.dpop,
        now: this.context.clock(),
        base: api.url,
        publicPrefix: `${this.context.basePath}/api/${name}`,
        loginPath: `${this.context.basePath}/login`,
      },
    );
    if (outcome.status === 401 && /(?:^|[\s,])error="invalid_token"/.test(outcome.wwwAuthenticate ?? '')) {
      // The API refused a token we thought valid (revoked, key rotated): refresh before the next call.
      await this.sessions.expireAccessToken(session.key, data.accessToken);
    }
  }
}
