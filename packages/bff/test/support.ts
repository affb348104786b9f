/**
 * Test support for the BFF: the real Gatehouse server (the server's test configuration, a controllable
 * clock, a real loopback port, a request counter per "METHOD path"), the orders API example, a test
 * upstream API that records what reached it, and a cookie-keeping client that talks to the BFF the way the SPA's browser would.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VerifierOptions } from '@gatehouse/resource';
import { buildServer, type GatehouseServer, parseConfig } from '@gatehouse/server';
import express, { type Express } from 'express';
import { createOrdersApp } from '../../../examples/orders-api/src/app.ts';
import { password, type TestClock, testClock, testConfig } from '../../server/test/helpers.ts';
import { FetchBrowser, freePort, keepCookies } from '../../server/test/interop-helpers.ts';
import { bffMiddleware } from '../src/express.ts';
import type { Bff, BffOptions } from '../src/index.ts';

export { FetchBrowser, freePort, password, type TestClock, testClock };

export const bffSecret = 'bff-client-test-secret-0123456789-abcdefghijklmn';

/**
 * Options of a test BFF for client `bff` of `issuer` at `baseUrl`: a fresh session secret and no sweeper;
 * `more` adds or overrides options.
 */
export function bffOptions(issuer: string, baseUrl: string, more: Partial<BffOptions> = {}): BffOptions {
  return {
    issuer,
    clientId: 'bff',
    baseUrl,
    secret: randomBytes(32).toString('base64url'),
    sweepInterval: 0,
    ...more,
  };
}

/** Listens on 127.0.0.1:`port` (0: a free port) and resolves the server. */
export async function listen(server: Server, port = 0): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** Closes a server a test started, its keep-alive connections too; nothing when it never started. */
export async function closeServer(server: Server | undefined): Promise<void> {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

/** `bff` mounted on Express (`bffMiddleware`), listening on 127.0.0.1:`port`; `routes` adds more. */
export function serveBff(bff: Bff, port = 0, routes?: (app: Express) => void): Promise<Server> {
  const app = express();
  app.use(bffMiddleware(bff));
  routes?.(app);
  return listen(createServer(app), port);
}

/** `bff` on bare node:http (no framework), listening on a free port of 127.0.0.1. */
export function serveBffOnNode(bff: Bff): Promise<Server> {
  return listen(createServer((req, res) => void bff.handle(req, res)));
}

/** Posts `body` (form-encoded unless `contentType` says otherwise) to the back-channel logout endpoint. */
export function postBackchannel(
  origin: string,
  body: string,
  contentType = 'application/x-www-form-urlencoded',
): Promise<Response> {
  return fetch(`${origin}/bff/backchannel`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
}

export interface RunningGatehouse {
  server: GatehouseServer;
  issuer: string;
  clock: TestClock;
  count(route: string): number;
  /** Every access, refresh and ID token the server put in a token response. */
  issuedTokens: Set<string>;
  close(): Promise<void>;
}

/**
 * Gatehouse on 127.0.0.1 with a confidential `bff` client whose redirect, post-logout and back-channel
 * URIs point at each given BFF origin, and the orders API resource at `ordersUrl`.
 */
export async function startGatehouse(options: {
  bffOrigins: string[];
  ordersUrl: string;
  clock: TestClock;
  overrides?: Record<string, unknown>;
}): Promise<RunningGatehouse> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const base = testConfig();
  const ordersScopes = ['orders.read', 'orders.write', 'orders.cancel'];
  const config = parseConfig(
    testConfig({
      issuer,
      server: { host: '127.0.0.1', port },
      apiScopes: [
        ...(base.apiScopes as Record<string, unknown>[]),
        { name: 'orders.cancel', description: 'Cancel your orders' },
      ],
      apiResources: [
        { id: 'orders-api', uris: [options.ordersUrl], scopes: ordersScopes },
        { id: 'api1', uris: ['https://api1.example.com'], scopes: ['api1.read'] },
      ],
      clients: [
        ...(base.clients as Record<string, unknown>[]),
        {
          clientId: 'bff',
          name: 'Single-page app (BFF)',
          secret: bffSecret,
          grantTypes: ['authorization_code', 'refresh_token'],
          redirectUris: options.bffOrigins.map((origin) => `${origin}/bff/callback`),
          postLogoutRedirectUris: options.bffOrigins.map((origin) => `${origin}/`),
          backchannelLogoutUri: `${options.bffOrigins[0]}/bff/backchannel`,
          scopes: ['openid', 'profile', 'email', 'offline_access', ...ordersScopes],
          requireConsent: false,
        },
      ],
      logout: { backchannelTimeout: 5, backchannelAttempts: 1 },
      // The suites sign in well over the per-IP login limit per minute, all from 127.0.0.1.
      rateLimits: { enabled: false },
      ...options.overrides,
    }),
  );
  const server = await buildServer(config, { clock: options.clock });
  const counts = new Map<string, number>();
  server.app.addHook('onRequest', (request, _reply, done) => {
    const route = `${request.method} ${request.url.split('?')[0]}`;
    counts.set(route, (counts.get(route) ?? 0) + 1);
    done();
  });
  const issuedTokens = new Set<string>();
  server.app.addHook('onSend', async (request, _reply, payload) => {
    if (request.url.split('?')[0] === '/token' && typeof payload === 'string' && payload.startsWith('{')) {
      const body = JSON.parse(payload) as Record<string, unknown>;
      for (const name of ['access_token', 'refresh_token', 'id_token']) {
        const token = body[name];
        if (typeof token === 'string') issuedTokens.add(token);
      }
    }
    return payload;
  });
  await server.listen();
  return {
    server,
    issuer,
    clock: options.clock,
    count: (route) => counts.get(route) ?? 0,
    issuedTokens,
    close: () => server.close(),
  };
}

/**
 * The orders API example on 127.0.0.1:`port`, accepting Gatehouse's tokens for `orders-api` by the test
 * clock; `dpop` is the verifier's DPoP setting.
 */
export async function startOrdersApi(
  issuer: string,
  port: number,
  clock: TestClock,
  dpop?: VerifierOptions['dpop'],
  cancelAcr?: string[],
): Promise<Server> {
  const verifier: VerifierOptions = { issuer, audience: 'orders-api', logger: false, now: clock };
  if (dpop !== undefined) verifier.dpop = dpop;
  const options = cancelAcr === undefined ? {} : { cancelAcr };
  return listen(createServer(createOrdersApp({ verifier, allowedOrigins: [], ...options })), port);
}

/** What the test upstream saw of one request. */
export interface UpstreamHit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  bodyLength: number;
  bodySha256: string;
}

export interface TestUpstream {
  url: string;
  hits: UpstreamHit[];
  close(): Promise<void>;
}

/**
 * An API that records every request and answers by path: `/slow` never answers, `/reject` is a 401
 * `invalid_token` challenge, anything else echoes what it received (status from `?status=`), with a
 * `Set-Cookie` and an internal header that the BFF must not pass on.
 */
export async function startUpstream(): Promise<TestUpstream> {
  const hits: UpstreamHit[] = [];
  const server: Server = createServer((req, res) => {
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on('end', () => {
      const hit = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyLength: length,
        bodySha256: hash.digest('hex'),
      };
      hits.push(hit);
      const path = (req.url ?? '').split('?')[0];
      if (path?.endsWith('/slow')) return;
      if (path?.endsWith('/big')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        // 4 MiB in 64 KiB chunks, written as the client reads them.
        const chunk = Buffer.alloc(64 * 1024, 7);
        let left = 64;
        const write = () => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) {
              res.once('drain', write);
              return;
            }
          }
          res.end();
        };
        write();
        return;
      }
      if (path?.endsWith('/step-up')) {
        // RFC 9470 §3: the API wants a second factor within five minutes.
        res.writeHead(401, {
          'www-authenticate':
            'Bearer realm="echo", error="insufficient_user_authentication", error_description="a second factor is required", acr_values="urn:gatehouse:acr:mfa", max_age=300',
          'content-type': 'application/json',
        });
        res.end('{"error":"insufficient_user_authentication","internal":"not-forwarded"}');
        return;
      }
      if (path?.endsWith('/reject')) {
        res.writeHead(401, {
          'www-authenticate': 'Bearer error="invalid_token"',
          'content-type': 'application/json',
        });
        res.end('{"error":"invalid_token"}');
        return;
      }
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const redirect = query.get('redirect');
      if (path?.endsWith('/redirect') && redirect !== null) {
        const address = server.address() as AddressInfo;
        res.writeHead(302, { location: redirect.replace('{self}', `http://127.0.0.1:${address.port}`) });
        res.end();
        return;
      }
      const status = Number(query.get('status') ?? 200);
      res.writeHead(status, {
        'content-type': 'application/json',
        'set-cookie': 'upstream=1; Path=/',
        'x-internal-secret': 'do-not-forward',
        etag: '"v1"',
      });
      res.end(JSON.stringify(hit));
    });
  });
  await listen(server);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => closeServer(server),
  };
}

/** A browser's view of the BFF: a cookie jar (names and values only) and manual redirects. */
export class BffBrowser {
  readonly cookies = new Map<string, string>();
  /** Every Set-Cookie line received, for attribute checks. */
  readonly setCookies: string[] = [];

  constructor(readonly origin: string) {}

  private remember(response: Response): void {
    this.setCookies.push(...response.headers.getSetCookie());
    keepCookies(this.cookies, response);
  }

  async fetch(path: string, init: RequestInit & { csrf?: boolean } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    if (init.csrf !== false && !path.startsWith(`${this.origin}/bff/login`)) headers.set('x-csrf', '1');
    const url = path.startsWith('http') ? path : `${this.origin}${path}`;
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.remember(response);
    return response;
  }

  /** Signs in through /bff/login and Gatehouse's login page; returns the final redirect's Location. */
  async signIn(issuer: string, returnUrl?: string, user?: { username: string; password: string }) {
    const query = returnUrl === undefined ? '' : `?returnUrl=${encodeURIComponent(returnUrl)}`;
    const login = await this.fetch(`/bff/login${query}`, { csrf: false });
    if (login.status !== 302) throw new Error(`login answered ${login.status}: ${await login.text()}`);
    const gatehouse = new FetchBrowser(issuer);
    const walk = await gatehouse.walk(login.headers.get('location')!, user ? { user } : {});
    const callback = await this.fetch(walk.location, { csrf: false });
    return { login, callback, gatehouse, callbackUrl: walk.location };
  }
}

/** Sends one request with a raw, unnormalized path (fetch would resolve `..` before sending). */
export function rawRequest(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    import('node:http').then(({ request }) => {
      const req = request({ host: hostname, port, path, method: 'GET', headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    }, reject);
  });
}
