/**
 * The BFF over real HTTP, mounted on Express and on Fastify, against the real Gatehouse server, a test
 * upstream that records what reaches it, and the orders API example: login with returnUrl checks, the
 * callback's state checks, the session cookie's attributes and rotation, /bff/user, CSRF (counted at the
 * upstream), the proxy (headers, streaming, path traversal, timeouts), refresh before expiry with
 * exactly one refresh for concurrent calls (counted at Gatehouse), a refused refresh ending the session,
 * RP-initiated logout and back-channel logout (also against a local issuer whose JWKS the test changes:
 * a removed key stops verifying logout tokens after `jwksMaxAge`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, requireService } from '../../../tools/test-services.ts';
import { hotp } from '../../server/src/authn/totp.ts';
import { signJwt } from '../../server/src/tokens/jwt.ts';
import { issueLogoutToken } from '../../server/src/tokens/logout-token.ts';
import { tamperSignature } from '../../server/test/helpers.ts';
import { bffPlugin } from '../src/fastify.ts';
import { type Bff, type BffOptions, createBff } from '../src/index.ts';
import { PostgresSessionStore } from '../src/stores/postgres.ts';
import { SqliteSessionStore } from '../src/stores/sqlite.ts';
import {
  BffBrowser,
  bffOptions,
  bffSecret,
  closeServer,
  FetchBrowser,
  freePort,
  listen,
  postBackchannel,
  type RunningGatehouse,
  rawRequest,
  serveBff,
  serveBffOnNode,
  startGatehouse,
  startOrdersApi,
  startUpstream,
  type TestUpstream,
  testClock,
} from './support.ts';

const clock = testClock();
let gatehouse: RunningGatehouse;
let upstream: TestUpstream;
let orders: Server;
let expressServer: Server;
let fastify: FastifyInstance;
type Adapter = 'express' | 'fastify' | 'timeouts' | 'nodeA' | 'nodeB';
const bffs: Record<Adapter, { bff: Bff; origin: string }> = {} as never;
const nodeServers: Server[] = [];
const pools: pg.Pool[] = [];
const nodesTable = `bff_sessions_nodes_${randomBytes(6).toString('hex')}`;
let timeoutsServer: Server;

beforeAll(async () => {
  await requireService('postgres');
  upstream = await startUpstream();
  const [expressPort, fastifyPort, timeoutsPort, ordersPort, nodeAPort, nodeBPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const ordersUrl = `http://127.0.0.1:${ordersPort}`;
  const origins = {
    express: `http://localhost:${expressPort}`,
    fastify: `http://localhost:${fastifyPort}`,
    timeouts: `http://localhost:${timeoutsPort}`,
    nodes: `http://localhost:${nodeAPort}`,
  };
  gatehouse = await startGatehouse({
    bffOrigins: [origins.express, origins.fastify, origins.timeouts, origins.nodes],
    ordersUrl,
    clock,
    overrides: { tokens: { accessTokenTtl: 300, refreshTokenTtl: 3600 } },
  });
  orders = await startOrdersApi(gatehouse.issuer, ordersPort, clock);
  // Gatehouse offers PAR (RFC 9126): the Fastify BFF pushes its requests (`auto`), the others send them on
  // the URL, so the tests that read the authorization URL (state, code_challenge) use Express.
  const make = (origin: string, diagnostics: boolean, more: Partial<BffOptions> = {}) =>
    createBff(
      bffOptions(gatehouse.issuer, origin, {
        clientAuthentication: { method: 'client_secret_basic', clientSecret: bffSecret },
        scope: 'openid profile email offline_access orders.read',
        apis: {
          echo: { url: `${upstream.url}/base`, scopes: ['orders.read'] },
          slow: { url: `${upstream.url}/base`, timeout: 300 },
          orders: { url: ordersUrl, scopes: ['orders.read'] },
          admin: { url: upstream.url, scopes: ['orders.admin'] },
          dead: { url: 'http://127.0.0.1:9' },
        },
        diagnostics,
        clock,
        ...more,
      }),
    );
  bffs.express = { bff: make(origins.express, true, { par: 'never' }), origin: origins.express };
  // Fastify's BFF keeps its sessions in SQLite: the tests run end to end over a real store too.
  const database = new Database(':memory:');
  bffs.fastify = {
    bff: make(origins.fastify, false, { store: new SqliteSessionStore(database), par: 'auto' }),
    origin: origins.fastify,
  };
  bffs.timeouts = {
    bff: make(origins.timeouts, false, {
      session: { idleTimeout: 600, absoluteTimeout: 1800 },
      par: 'never',
    }),
    origin: origins.timeouts,
  };
  timeoutsServer = await serveBff(bffs.timeouts.bff, timeoutsPort);
  // Two BFF nodes behind one public origin, each with its own PostgreSQL pool on one shared table.
  const nodesSecret = randomBytes(32).toString('base64url');
  for (const [node, port] of [
    ['nodeA', nodeAPort],
    ['nodeB', nodeBPort],
  ] as const) {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    pools.push(pool);
    const store = await PostgresSessionStore.open(pool, { table: nodesTable });
    bffs[node] = {
      bff: make(origins.nodes, false, { store, secret: nodesSecret }),
      origin: `http://localhost:${port}`,
    };
    nodeServers.push(await serveBff(bffs[node].bff, port));
  }
  expressServer = await serveBff(bffs.express.bff, expressPort, (app) =>
    app.get('/', (_req, res) => {
      res.send('the SPA');
    }),
  );
  fastify = Fastify();
  await fastify.register(bffPlugin(bffs.fastify.bff));
  await fastify.listen({ port: fastifyPort, host: '127.0.0.1' });
});

afterAll(async () => {
  await closeServer(expressServer);
  await fastify?.close();
  await closeServer(timeoutsServer);
  await bffs.timeouts?.bff.close();
  for (const nodeServer of nodeServers) await closeServer(nodeServer);
  await pools[0]?.query(`DROP TABLE IF EXISTS ${nodesTable}`);
  for (const pool of pools) await pool.end();
  await closeServer(orders);
  await upstream?.close();
  await bffs.express?.bff.close();
  await bffs.fastify?.bff.close();
  await gatehouse?.close();
});

async function signedIn(adapter: Adapter = 'express', username = 'alice') {
  const browser = new BffBrowser(bffs[adapter].origin);
  const flow = await browser.signIn(
    gatehouse.issuer,
    undefined,
    username === 'alice' ? undefined : { username, password: 'correct horse battery staple' },
  );
  expect(flow.callback.status).toBe(302);
  return { browser, ...flow };
}

/** The latest request the upstream saw. */
function lastHit() {
  const hit = upstream.hits.at(-1);
  if (hit === undefined) throw new Error('the upstream saw nothing');
  return hit;
}

function bearer(hit = lastHit()): string {
  return String(hit.headers.authorization).replace(/^Bearer /, '');
}

describe('login and callback', () => {
  it('signs in through Gatehouse and sets one __Host- cookie: HttpOnly, Secure, SameSite=Strict, Path=/, no Domain', async () => {
    const browser = new BffBrowser(bffs.express.origin);
    const { login, callback } = await browser.signIn(gatehouse.issuer, '/orders?tab=open#top');
    const authorize = new URL(login.headers.get('location')!);
    expect(authorize.origin).toBe(gatehouse.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${bffs.express.origin}/bff/callback`);
    expect(login.headers.getSetCookie()[0]).toMatch(
      /^__Host-bff-session-login=[\w-]+; Path=\/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(callback.headers.get('location')).toBe('/orders?tab=open#top');
    const session = callback.headers.getSetCookie().find((line) => line.startsWith('__Host-bff-session='))!;
    expect(session).toMatch(
      /^__Host-bff-session=[\w-]{43}; Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict$/,
    );
    expect(session).not.toMatch(/Domain/i);
    expect(browser.cookies.has('__Host-bff-session-login')).toBe(false);
    const user = await browser.fetch('/bff/user');
    expect(user.status).toBe(200);
    expect(user.headers.get('cache-control')).toBe('no-store');
    const body = (await user.json()) as {
      sub: string;
      claims: Record<string, unknown>;
      session: { expiresAt: number };
    };
    expect(body.claims.name).toBe('Alice Smith');
    expect(body.sub).toBeTypeOf('string');
    expect(body.session.expiresAt).toBeGreaterThan(clock());
    expect(JSON.stringify(body)).not.toMatch(/eyJ|nonce|at_hash/);
  });

  it('issues a new session id at every login and forgets the old one', async () => {
    const { browser } = await signedIn();
    const first = browser.cookies.get('__Host-bff-session')!;
    const stale = new BffBrowser(bffs.express.origin);
    stale.cookies.set('__Host-bff-session', first);
    expect((await stale.fetch('/bff/user')).status).toBe(200);
    await browser.signIn(gatehouse.issuer);
    const second = browser.cookies.get('__Host-bff-session')!;
    expect(second).not.toBe(first);
    expect((await browser.fetch('/bff/user')).status).toBe(200);
    expect((await stale.fetch('/bff/user')).status).toBe(401);
  });

  it.each([
    'https://evil.example.com/',
    '//evil.example.com/path',
    '/\\evil.example.com',
    'javascript:alert(1)',
    'http://localhost:1/',
    'orders',
  ])('refuses returnUrl %s (open redirect) with 400 and no redirect', async (returnUrl) => {
    const browser = new BffBrowser(bffs.express.origin);
    const response = await browser.fetch(`/bff/login?returnUrl=${encodeURIComponent(returnUrl)}`, {
      csrf: false,
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a repeated returnUrl', async () => {
    const response = await fetch(`${bffs.express.origin}/bff/login?returnUrl=/a&returnUrl=/b`, {
      redirect: 'manual',
    });
    expect(response.status).toBe(400);
  });

  it('answers 400 to a bad, missing, replayed or foreign state, without a token request', async () => {
    const browser = new BffBrowser(bffs.express.origin);
    const login = await browser.fetch('/bff/login', { csrf: false });
    const walk = await new FetchBrowser(gatehouse.issuer).walk(login.headers.get('location')!);
    const callback = new URL(walk.location);
    const tokenRequests = gatehouse.count('POST /token');

    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state');
    const bad = await browser.fetch(forged.href, { csrf: false });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_state' });

    const missing = new URL(callback);
    missing.searchParams.delete('state');
    expect((await browser.fetch(missing.href, { csrf: false })).status).toBe(400);

    const twice = new URL(callback);
    twice.searchParams.append('state', 'other');
    expect((await browser.fetch(twice.href, { csrf: false })).status).toBe(400);

    // Another browser (without this browser's login cookie) brings the real callback: refused, and the
    // pending login is consumed, so the rightful browser must start again too.
    const other = new BffBrowser(bffs.express.origin);
    expect((await other.fetch(callback.href, { csrf: false })).status).toBe(400);
    expect((await browser.fetch(callback.href, { csrf: false })).status).toBe(400);
    expect(gatehouse.count('POST /token')).toBe(tokenRequests);
  });

  it('answers 400 to a replayed callback', async () => {
    const { browser, callbackUrl } = await signedIn();
    const replay = await browser.fetch(callbackUrl, { csrf: false });
    expect(replay.status).toBe(400);
  });

  it('signs in silently (prompt=none) when Gatehouse has a session, and returns anonymous when not', async () => {
    const { gatehouse: gatehouseBrowser } = await signedIn();
    const browser = new BffBrowser(bffs.express.origin);
    const login = await browser.fetch('/bff/login?prompt=none&returnUrl=/app', { csrf: false });
    const authorize = new URL(login.headers.get('location')!);
    expect(authorize.searchParams.get('prompt')).toBe('none');
    const walk = await gatehouseBrowser.walk(authorize);
    expect(walk.pages).toEqual([]);
    const callback = await browser.fetch(walk.location, { csrf: false });
    expect(callback.headers.get('location')).toBe('/app');
    expect((await browser.fetch('/bff/user')).status).toBe(200);

    const stranger = new BffBrowser(bffs.express.origin);
    const silent = await stranger.fetch('/bff/login?prompt=none&returnUrl=/app', { csrf: false });
    const answer = await new FetchBrowser(gatehouse.issuer).walk(silent.headers.get('location')!);
    expect(new URL(answer.location).searchParams.get('error')).toBe('login_required');
    const back = await stranger.fetch(answer.location, { csrf: false });
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe('/app');
    expect(stranger.cookies.has('__Host-bff-session')).toBe(false);
    expect((await stranger.fetch('/bff/user')).status).toBe(401);
  });

  it.each(['consent', 'select_account', 'none login'])('refuses prompt=%s', async (prompt) => {
    const response = await fetch(`${bffs.express.origin}/bff/login?prompt=${encodeURIComponent(prompt)}`, {
      redirect: 'manual',
    });
    expect(response.status).toBe(400);
  });

  it('answers 400 with the error when the server returns an error to the callback', async () => {
    const browser = new BffBrowser(bffs.express.origin);
    const login = await browser.fetch('/bff/login', { csrf: false });
    const state = new URL(login.headers.get('location')!).searchParams.get('state')!;
    const response = await browser.fetch(
      `/bff/callback?error=access_denied&error_description=no&state=${state}&iss=${encodeURIComponent(gatehouse.issuer)}`,
      { csrf: false },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'access_denied' });
  });
});

describe('malformed requests', () => {
  it.each([
    ['GET', '/bff/login?returnUrl=%'],
    ['GET', '/bff/login?returnUrl=%2F%2Fevil.example.com'],
    ['GET', '/bff/login?prompt='],
    ['GET', '/bff/callback'],
    ['GET', '/bff/callback?state=%E0%A4%A&code=x'],
    ['GET', `/bff/callback?state=${'s'.repeat(5000)}`],
    ['GET', '/bff/logout/continue'],
    ['GET', '/bff/logout/continue?ticket=%'],
    ['GET', '/bff/api/echo/%'],
    ['GET', '/bff/api/'],
    ['GET', '/bff/api'],
    ['GET', '/bff'],
    ['GET', '/bff/'],
    ['PUT', '/bff/login'],
    ['DELETE', '/bff/backchannel'],
    ['POST', '/bff/callback'],
  ])('%s %s is a clear error, never a 500', async (method, path) => {
    const { browser } = await signedIn();
    const response = await browser.fetch(path, { method });
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(500);
    if (response.status >= 400) {
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error).toBeTypeOf('string');
      expect(body.error_description).toBeTypeOf('string');
    }
  });

  it('answers the percent-encoded open redirect attempt with a local path only', async () => {
    const browser = new BffBrowser(bffs.express.origin);
    const { callback } = await browser.signIn(gatehouse.issuer, '/%2F%2Fevil.example.com');
    expect(callback.headers.get('location')).toBe('/%2F%2Fevil.example.com');
  });
});

describe('user endpoint and CSRF', () => {
  it('answers 401 JSON (never a redirect) when anonymous, and for an unknown or malformed cookie', async () => {
    const anonymous = new BffBrowser(bffs.express.origin);
    const response = await anonymous.fetch('/bff/user');
    expect(response.status).toBe(401);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.json()).toMatchObject({ error: 'login_required' });
    anonymous.cookies.set('__Host-bff-session', 'A'.repeat(43));
    expect((await anonymous.fetch('/bff/user')).status).toBe(401);
    anonymous.cookies.set('__Host-bff-session', 'not a valid "cookie"');
    expect((await anonymous.fetch('/bff/user')).status).toBe(401);
  });

  it('refuses /bff/user and /bff/logout without X-CSRF: 1', async () => {
    const { browser } = await signedIn();
    for (const headers of [{}, { 'x-csrf': '0' }, { 'x-csrf': 'true' }] as Record<string, string>[]) {
      const user = await browser.fetch('/bff/user', { csrf: false, headers });
      expect(user.status).toBe(403);
      expect(await user.json()).toMatchObject({ error: 'csrf_header_missing' });
    }
    expect((await browser.fetch('/bff/logout', { method: 'POST', csrf: false })).status).toBe(403);
    expect((await browser.fetch('/bff/user')).status).toBe(200);
  });

  it('answers 405 to a wrong method and 404 to an unknown endpoint', async () => {
    const { browser } = await signedIn();
    const wrong = await browser.fetch('/bff/user', { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect((await browser.fetch('/bff/logout')).status).toBe(405);
    expect((await browser.fetch('/bff/nothing')).status).toBe(404);
  });
});

describe.each(['express', 'fastify'] as const)('API proxy on %s', (adapter) => {
  it('refuses a call without the CSRF header before it reaches the upstream', async () => {
    const { browser } = await signedIn(adapter);
    const before = upstream.hits.length;
    const response = await browser.fetch('/bff/api/echo/items', { csrf: false });
    expect(response.status).toBe(403);
    const post = await browser.fetch('/bff/api/echo/items', { method: 'POST', csrf: false, body: 'x' });
    expect(post.status).toBe(403);
    expect(upstream.hits.length).toBe(before);
  });

  it('forwards with the token, without cookie or CSRF header, and filters the answer headers', async () => {
    const { browser } = await signedIn(adapter);
    const response = await browser.fetch('/bff/api/echo/items/42?status=201&q=a%20b', {
      headers: {
        'x-request-id': 'r-1',
        authorization: 'Bearer from-the-browser',
        accept: 'application/json',
      },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(response.headers.get('x-internal-secret')).toBeNull();
    expect(response.headers.get('etag')).toBe('"v1"');
    const hit = lastHit();
    expect(hit.url).toBe('/base/items/42?status=201&q=a%20b');
    expect(hit.headers.authorization).toMatch(/^Bearer eyJ/);
    expect(hit.headers.cookie).toBeUndefined();
    expect(hit.headers['x-csrf']).toBeUndefined();
    expect(hit.headers['x-request-id']).toBe('r-1');
    const body = await response.text();
    expect(body).toContain('/base/items/42');
  });

  it.each([
    ['{self}/base/items/7?x=1', '/bff/api/echo/items/7?x=1'],
    ['/base/items/8', '/bff/api/echo/items/8'],
    ['items/9', '/bff/api/echo/items/9'],
    ['{self}/elsewhere', null],
    ['https://evil.example.com/base/items', null],
  ])('rewrites an upstream Location %s to %s (or drops it)', async (location, expected) => {
    const { browser } = await signedIn(adapter);
    const response = await browser.fetch(`/bff/api/echo/redirect?redirect=${encodeURIComponent(location)}`);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(expected);
  });

  it('streams a large request body to the upstream unchanged', async () => {
    const { browser } = await signedIn(adapter);
    const payload = randomBytes(3 * 1024 * 1024);
    const response = await browser.fetch('/bff/api/echo/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: payload,
    });
    expect(response.status).toBe(200);
    const hit = lastHit();
    expect(hit.bodyLength).toBe(payload.length);
    expect(hit.bodySha256).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(hit.headers['content-type']).toBe('application/octet-stream');
  });

  it('streams a large response body back unchanged', async () => {
    const { browser } = await signedIn(adapter);
    const response = await browser.fetch('/bff/api/echo/big');
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.length).toBe(4 * 1024 * 1024);
    expect(body.every((byte) => byte === 7)).toBe(true);
  });

  it.each([
    '/bff/api/echo/../secret',
    '/bff/api/echo/items/../../secret',
    '/bff/api/echo/%2e%2e/secret',
    '/bff/api/echo/%2E%2E/secret',
    '/bff/api/echo/..%2fsecret',
    '/bff/api/echo/a%2Fb',
    '/bff/api/echo/a%5c..%5csecret',
    '/bff/api/echo/a\\..\\secret',
    '/bff/api/echo/./items',
    '/bff/api/echo/%00',
    '/bff/api/echo..',
  ])('blocks path traversal %s before any upstream call', async (path) => {
    const { browser } = await signedIn(adapter);
    const before = upstream.hits.length;
    const cookie = `__Host-bff-session=${browser.cookies.get('__Host-bff-session')}`;
    const response = await rawRequest(browser.origin, path, { cookie, 'x-csrf': '1' });
    expect([400, 404]).toContain(response.status);
    expect(upstream.hits.length).toBe(before);
  });

  it('answers 404 for an API that is not configured, 403 when the session lacks its scopes', async () => {
    const { browser } = await signedIn(adapter);
    const before = upstream.hits.length;
    expect((await browser.fetch('/bff/api/unknown/x')).status).toBe(404);
    const admin = await browser.fetch('/bff/api/admin/x');
    expect(admin.status).toBe(403);
    expect(await admin.json()).toMatchObject({ error: 'insufficient_scope' });
    expect(upstream.hits.length).toBe(before);
  });

  it('answers 401 when anonymous, without calling the upstream', async () => {
    const before = upstream.hits.length;
    const response = await new BffBrowser(bffs[adapter].origin).fetch('/bff/api/echo/items');
    expect(response.status).toBe(401);
    expect(upstream.hits.length).toBe(before);
  });

  it('answers 504 when the upstream does not answer in time and 502 when it cannot be reached, with no token in the body', async () => {
    const { browser } = await signedIn(adapter);
    const slow = await browser.fetch('/bff/api/slow/slow');
    expect(slow.status).toBe(504);
    const slowBody = await slow.text();
    expect(JSON.parse(slowBody)).toMatchObject({ error: 'upstream_timeout' });
    expect(slowBody).not.toContain(bearer());
    const dead = await browser.fetch('/bff/api/dead/x');
    expect(dead.status).toBe(502);
    const deadBody = await dead.text();
    expect(JSON.parse(deadBody)).toMatchObject({ error: 'upstream_unreachable' });
    expect(deadBody).not.toMatch(/eyJ|127\.0\.0\.1/);
  });

  it('calls the real orders API with the session token', async () => {
    const { browser } = await signedIn(adapter);
    const created = await browser.fetch('/bff/api/orders/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'tea' }),
    });
    // orders.write was not asked for: the API itself says 403.
    expect(created.status).toBe(403);
    const list = await browser.fetch('/bff/api/orders/orders');
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ orders: [] });
  });
});

describe('tokens: refresh before expiry', () => {
  it('refreshes once for many concurrent calls after expiry, and the API accepts the new token', async () => {
    const { browser } = await signedIn();
    expect((await browser.fetch('/bff/api/echo/before')).status).toBe(200);
    const oldToken = bearer();
    clock.advance(301);
    const refreshes = gatehouse.count('POST /token');
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, index) => browser.fetch(`/bff/api/echo/concurrent/${index}`)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
    expect(gatehouse.count('POST /token') - refreshes).toBe(1);
    const tokens = new Set(upstream.hits.slice(-8).map((hit) => bearer(hit)));
    expect(tokens.size).toBe(1);
    expect(tokens.has(oldToken)).toBe(false);
    const orders = await browser.fetch('/bff/api/orders/orders');
    expect(orders.status).toBe(200);
  });

  it('refreshes ahead of expiry (within refreshBefore) and not before', async () => {
    const { browser } = await signedIn();
    const refreshes = gatehouse.count('POST /token');
    clock.advance(200);
    expect((await browser.fetch('/bff/api/echo/a')).status).toBe(200);
    expect(gatehouse.count('POST /token')).toBe(refreshes);
    clock.advance(50);
    expect((await browser.fetch('/bff/api/echo/b')).status).toBe(200);
    expect(gatehouse.count('POST /token')).toBe(refreshes + 1);
  });

  it('ends the session with 401 when the refresh is refused', async () => {
    const { browser } = await signedIn();
    clock.advance(3601);
    const response = await browser.fetch('/bff/api/echo/after-refresh-expiry');
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'login_required' });
    expect(browser.cookies.has('__Host-bff-session')).toBe(false);
    expect((await browser.fetch('/bff/user')).status).toBe(401);
  });

  it('refreshes before the next call when the API refuses the token as invalid_token', async () => {
    const { browser } = await signedIn();
    expect((await browser.fetch('/bff/api/echo/reject')).status).toBe(401);
    const refused = bearer();
    const refreshes = gatehouse.count('POST /token');
    expect((await browser.fetch('/bff/api/echo/next')).status).toBe(200);
    expect(gatehouse.count('POST /token')).toBe(refreshes + 1);
    expect(bearer()).not.toBe(refused);
    expect((await browser.fetch('/bff/user')).status).toBe(200);
  });
});

describe('several BFF nodes sharing one store (PostgreSQL)', () => {
  it('refreshes a session once across nodes during expiry, and neither node loses it', async () => {
    const { browser: onA } = await signedIn('nodeA');
    const onB = new BffBrowser(bffs.nodeB.origin);
    onB.cookies.set('__Host-bff-session', onA.cookies.get('__Host-bff-session')!);
    expect((await onB.fetch('/bff/user')).status).toBe(200);
    clock.advance(301);
    const refreshes = gatehouse.count('POST /token');
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        (index % 2 === 0 ? onA : onB).fetch(`/bff/api/echo/node/${index}`),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
    expect(gatehouse.count('POST /token') - refreshes).toBe(1);
    expect(new Set(upstream.hits.slice(-8).map((hit) => bearer(hit))).size).toBe(1);
    expect((await onA.fetch('/bff/user')).status).toBe(200);
    expect((await onB.fetch('/bff/user')).status).toBe(200);
  });
});

describe('session expiry', () => {
  it('slides the idle expiry with activity and ends an idle session', async () => {
    const { browser } = await signedIn('timeouts');
    clock.advance(500);
    expect((await browser.fetch('/bff/user')).status).toBe(200);
    clock.advance(500);
    expect((await browser.fetch('/bff/user')).status).toBe(200);
    clock.advance(601);
    const ended = await browser.fetch('/bff/user');
    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ error: 'login_required' });
  });

  it('ends a session at its absolute expiry however active it is', async () => {
    const { browser } = await signedIn('timeouts');
    for (let elapsed = 0; elapsed + 400 < 1800; elapsed += 400) {
      clock.advance(400);
      expect((await browser.fetch('/bff/user')).status).toBe(200);
    }
    clock.advance(400);
    expect((await browser.fetch('/bff/user')).status).toBe(401);
  });

  it('reports the session expiry to the SPA', async () => {
    const { browser } = await signedIn('timeouts');
    const body = (await (await browser.fetch('/bff/user')).json()) as {
      session: { expiresAt: number; absoluteExpiresAt: number };
    };
    expect(body.session.expiresAt).toBe(clock() + 600);
    expect(body.session.absoluteExpiresAt).toBe(clock() + 1800);
  });
});

describe('logout', () => {
  it('ends the local session, revokes the refresh token and sends the browser to end_session through a one-time ticket', async () => {
    const { browser, gatehouse: gatehouseBrowser } = await signedIn();
    const revocations = gatehouse.count('POST /revoke');
    const response = await browser.fetch('/bff/logout', { method: 'POST' });
    expect(response.status).toBe(200);
    const { location } = (await response.json()) as { location: string };
    expect(location).toMatch(/^\/bff\/logout\/continue\?ticket=[\w-]{43}$/);
    expect(browser.cookies.has('__Host-bff-session')).toBe(false);
    expect(gatehouse.count('POST /revoke')).toBe(revocations + 1);
    const continued = await browser.fetch(location, { csrf: false });
    expect(continued.status).toBe(302);
    const endSession = new URL(continued.headers.get('location')!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${gatehouse.issuer}/end_session`);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${bffs.express.origin}/`);
    const signedOut = await gatehouseBrowser.get(endSession.href);
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get('location')).toBe(`${bffs.express.origin}/`);
    expect((await browser.fetch(location, { csrf: false })).status).toBe(400);
    expect((await browser.fetch('/bff/user')).status).toBe(401);
  });

  it('answers an anonymous logout with the local post-logout page', async () => {
    const response = await new BffBrowser(bffs.express.origin).fetch('/bff/logout', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ location: `${bffs.express.origin}/` });
  });
});

describe('back-channel logout', () => {
  /** Waits until Gatehouse has no back-channel delivery in flight (each is bounded by its timeout). */
  async function deliveriesDone(): Promise<void> {
    const backchannel = gatehouse.server.ctx.logout.backchannel;
    for (let attempt = 0; attempt < 600 && backchannel.pending > 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('ends the session when the user signs out at Gatehouse (a real logout token)', async () => {
    const { browser, gatehouse: gatehouseBrowser } = await signedIn();
    const other = await signedIn('express', 'bob');
    const page = await gatehouseBrowser.get(`${gatehouse.issuer}/end_session`);
    const html = await page.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const confirmed = await gatehouseBrowser.post(action.replace(/&amp;/g, '&'), { csrf });
    expect(confirmed.status).toBe(200);
    await deliveriesDone();
    expect(gatehouse.server.ctx.logout.backchannel.pending).toBe(0);
    expect((await browser.fetch('/bff/user')).status).toBe(401);
    expect((await other.browser.fetch('/bff/user')).status).toBe(200);
  });

  function post(body: string, contentType?: string) {
    return postBackchannel(bffs.express.origin, body, contentType);
  }

  async function sessionOf(username: string) {
    const { browser } = await signedIn('express', username);
    const user = (await (await browser.fetch('/bff/user')).json()) as { sub: string };
    return { browser, sub: user.sub };
  }

  it('ends every session of the sub when the token has no sid', async () => {
    const first = await sessionOf('bob');
    const second = await sessionOf('bob');
    const token = await signJwt(gatehouse.server.ctx.keys.signingKey(clock()), 'logout+jwt', {
      iss: gatehouse.issuer,
      aud: 'bff',
      sub: first.sub,
      iat: clock(),
      exp: clock() + 120,
      jti: randomBytes(8).toString('hex'),
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    });
    const response = await post(new URLSearchParams({ logout_token: token }).toString());
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect((await first.browser.fetch('/bff/user')).status).toBe(401);
    expect((await second.browser.fetch('/bff/user')).status).toBe(401);
  });

  it("fetches the issuer's JWKS for logout tokens through the BFF's HTTP options, and only once", async () => {
    const fetched: string[] = [];
    const bff = createBff(
      bffOptions(gatehouse.issuer, 'http://localhost:1', {
        clock,
        http: {
          fetch: (input, init) => {
            fetched.push(String(input));
            return fetch(input, init);
          },
        },
      }),
    );
    const server = await serveBffOnNode(bff);
    try {
      const { port } = server.address() as { port: number };
      for (const sid of ['first', 'second']) {
        const token = await issueLogoutToken(gatehouse.server.ctx, { clientId: 'bff', sub: 'someone', sid });
        const body = new URLSearchParams({ logout_token: token }).toString();
        const response = await postBackchannel(`http://127.0.0.1:${port}`, body);
        expect(response.status).toBe(200);
      }
      const jwksUri = (await bff.client.metadata()).jwks_uri;
      expect(fetched.filter((url) => url === jwksUri)).toHaveLength(1);
    } finally {
      await closeServer(server);
      await bff.close();
    }
  });

  it('refuses logout tokens signed by a key the issuer removed once the JWKS is older than jwksMaxAge', async () => {
    const keys = [await generateKeyPair('ES256'), await generateKeyPair('ES256')];
    let published = [0, 1];
    let jwksUp = true;
    let jwksFetches = 0;
    const issuerServer = createServer((req, res) => {
      jwksFetches += 1;
      if (req.url !== '/jwks' || !jwksUp) return void res.writeHead(503).end();
      void Promise.all(
        published.map(async (index) => ({
          ...(await exportJWK(keys[index]!.publicKey)),
          kid: `k${index}`,
          alg: 'ES256',
        })),
      ).then((jwks) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks })),
      );
    });
    await listen(issuerServer);
    const issuer = `http://127.0.0.1:${(issuerServer.address() as { port: number }).port}`;
    const bffClock = testClock();
    const bff = createBff(
      bffOptions(issuer, 'http://localhost:1', {
        metadata: {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
        },
        jwksMaxAge: 120,
        clock: bffClock,
      }),
    );
    const server = await serveBffOnNode(bff);
    const logout = async (key: number) => {
      const token = await new SignJWT({
        sid: randomBytes(8).toString('hex'),
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      })
        .setProtectedHeader({ alg: 'ES256', kid: `k${key}`, typ: 'logout+jwt' })
        .setIssuer(issuer)
        .setAudience('bff')
        .setIssuedAt(bffClock())
        .setExpirationTime(bffClock() + 120)
        .setJti(randomBytes(8).toString('hex'))
        .sign(keys[key]!.privateKey);
      const { port } = server.address() as { port: number };
      const body = new URLSearchParams({ logout_token: token }).toString();
      const response = await postBackchannel(`http://127.0.0.1:${port}`, body);
      return response.status;
    };
    try {
      expect(await logout(0)).toBe(200);
      published = [1];
      bffClock.advance(119);
      expect(await logout(0)).toBe(200);
      expect(jwksFetches).toBe(1);
      bffClock.advance(1);
      expect(await logout(0)).toBe(400);
      expect(await logout(1)).toBe(200);
      expect(jwksFetches).toBe(2);
      jwksUp = false;
      bffClock.advance(120);
      expect(await logout(1)).toBe(400);
      expect(jwksFetches).toBe(3);
      jwksUp = true;
      expect(await logout(1)).toBe(200);
      expect(jwksFetches).toBe(4);
    } finally {
      await closeServer(server);
      await closeServer(issuerServer);
      await bff.close();
    }
  });

  it('refuses a replayed logout token', async () => {
    const { sub } = await sessionOf('bob');
    const token = await issueLogoutToken(gatehouse.server.ctx, { clientId: 'bff', sub, sid: 'no-such-sid' });
    expect((await post(new URLSearchParams({ logout_token: token }).toString())).status).toBe(200);
    const replay = await post(new URLSearchParams({ logout_token: token }).toString());
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_request' });
  });

  const events = { 'http://schemas.openid.net/event/backchannel-logout': {} };
  const bad: Array<[string, () => string | Promise<string>]> = [
    ['garbage', () => 'logout_token=not-a-jwt'],
    ['no logout_token', () => 'token=x'],
    ['an empty logout_token', () => 'logout_token='],
    [
      'two logout_tokens',
      async () => {
        const token = await issueLogoutToken(gatehouse.server.ctx, { clientId: 'bff', sub: 's', sid: 'x' });
        return `logout_token=${token}&logout_token=${token}`;
      },
    ],
    [
      'a tampered signature',
      async () =>
        `logout_token=${tamperSignature(await issueLogoutToken(gatehouse.server.ctx, { clientId: 'bff', sub: 's', sid: 'x' }))}`,
    ],
    [
      'another audience',
      async () =>
        `logout_token=${await issueLogoutToken(gatehouse.server.ctx, { clientId: 'web-app', sub: 's', sid: 'x' })}`,
    ],
  ];
  const claimCases: Array<[string, Record<string, unknown>, string?]> = [
    ['another issuer', { iss: 'https://evil.example.com' }],
    ['no events', { events: undefined }],
    ['events without the logout event', { events: { 'http://example.com/other': {} } }],
    [
      'a logout event that is not an object',
      { events: { 'http://schemas.openid.net/event/backchannel-logout': 'x' } },
    ],
    ['a nonce', { nonce: 'n' }],
    ['neither sid nor sub', { sub: undefined, sid: undefined }],
    ['no jti', { jti: undefined }],
    ['no iat', { iat: undefined }],
    ['an expiry in the past', { exp: 1000, iat: 900 }],
    ['an access token type', {}, 'at+jwt'],
  ];
  for (const [name, claims, typ] of claimCases) {
    bad.push([
      name,
      async () => {
        const payload: Record<string, unknown> = {
          iss: gatehouse.issuer,
          aud: 'bff',
          sub: 'someone',
          sid: 'some-sid',
          iat: clock(),
          exp: clock() + 120,
          jti: randomBytes(8).toString('hex'),
          events,
          ...claims,
        };
        for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
        return `logout_token=${await signJwt(gatehouse.server.ctx.keys.signingKey(clock()), typ ?? 'logout+jwt', payload)}`;
      },
    ]);
  }

  it.each(bad)('answers 400 to a logout token with %s, ending nothing', async (_name, body) => {
    const { browser } = await signedIn();
    const response = await post(await body());
    expect(response.status).toBe(400);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    expect((await browser.fetch('/bff/user')).status).toBe(200);
  });

  it('answers 400 to a body that is not a form, and 413 to one too large', async () => {
    expect((await post('{"logout_token":"x"}', 'application/json')).status).toBe(400);
    expect((await post(`logout_token=${'a'.repeat(70_000)}`)).status).toBe(413);
  });
});

describe('diagnostics', () => {
  it('is off unless enabled', async () => {
    expect((await fetch(`${bffs.fastify.origin}/bff/diagnostics`)).status).toBe(404);
  });

  it('says why a request has no session, and describes a valid one without any token', async () => {
    const anonymous = await fetch(`${bffs.express.origin}/bff/diagnostics`, {
      headers: { cookie: 'other=1', origin: 'https://elsewhere.example.com' },
    });
    const report = (await anonymous.json()) as {
      valid: boolean;
      findings: string[];
      cookie: { cookieNamesReceived: string[] };
    };
    expect(report.valid).toBe(false);
    expect(report.cookie.cookieNamesReceived).toEqual(['other']);
    expect(report.findings.join('\n')).toMatch(/No __Host-bff-session cookie arrived/);
    expect(report.findings.join('\n')).toMatch(/origin https:\/\/elsewhere\.example\.com/);

    const { browser } = await signedIn();
    const valid = await browser.fetch('/bff/diagnostics');
    const text = await valid.text();
    const body = JSON.parse(text) as {
      valid: boolean;
      session: { refreshToken: boolean; scopes: string[] };
      findings: string[];
    };
    expect(body.valid).toBe(true);
    expect(body.session.refreshToken).toBe(true);
    expect(body.session.scopes).toContain('orders.read');
    expect(body.findings.join('\n')).toMatch(/API "admin" are refused with 403/);
    expect(text).not.toMatch(/eyJ/);
    expect(text).not.toContain(browser.cookies.get('__Host-bff-session')!);

    browser.cookies.set('__Host-bff-session', 'B'.repeat(43));
    const stale = (await (await browser.fetch('/bff/diagnostics')).json()) as { findings: string[] };
    expect(stale.findings.join('\n')).toMatch(/names no live session/);
  });
});

describe('step-up (RFC 9470)', () => {
  it('answers an API step-up challenge with a login_url that signs in with the second factor, and the retried call carries acr mfa', async () => {
    const { browser } = await signedIn('express');
    const challenged = await browser.fetch('/bff/api/echo/step-up');
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get('www-authenticate')).toContain('error="insufficient_user_authentication"');
    const body = (await challenged.json()) as Record<string, unknown>;
    expect(body).toEqual({
      error: 'insufficient_user_authentication',
      error_description: 'the API asks for a stronger or more recent sign-in',
      acr_values: 'urn:gatehouse:acr:mfa',
      max_age: 300,
      login_url: '/bff/login?acr_values=urn%3Agatehouse%3Aacr%3Amfa&max_age=300',
    });

    const login = await browser.fetch(body.login_url as string, { csrf: false });
    expect(login.status).toBe(302);
    const authorization = new URL(login.headers.get('location')!);
    expect(authorization.searchParams.get('acr_values')).toBe('urn:gatehouse:acr:mfa');
    expect(authorization.searchParams.get('max_age')).toBe('300');
    const gatehouseBrowser = new FetchBrowser(gatehouse.issuer);
    const walk = await gatehouseBrowser.walk(authorization, {
      secondFactor: (html) => {
        const secret = /<code id="totp-secret">([^<]+)<\/code>/.exec(html)?.[1]?.replace(/\s/g, '') ?? '';
        return { code: hotp(secret, Math.floor(clock() / 30)) };
      },
    });
    expect(walk.pages).toEqual(['login', 'second-factor', 'recovery-codes']);
    const callback = await browser.fetch(walk.location, { csrf: false });
    expect(callback.status).toBe(302);

    const retried = await browser.fetch('/bff/api/echo/anything');
    expect(retried.status).toBe(200);
    const hit = (await retried.json()) as { headers: Record<string, string> };
    const token = hit.headers.authorization?.split(' ')[1] ?? '';
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({ acr: 'urn:gatehouse:acr:mfa', amr: ['pwd', 'otp', 'mfa'] });
  });

  it('refuses malformed acr_values and max_age at login', async () => {
    const browser = new BffBrowser(bffs.express.origin);
    for (const query of [
      'acr_values=a%0Ab',
      'max_age=-1',
      'max_age=1&max_age=2',
      'acr_values=a&acr_values=b',
    ]) {
      const response = await browser.fetch(`/bff/login?${query}`, { csrf: false });
      expect(response.status).toBe(400);
    }
  });
});
