import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix, redisUrl, requireService, uniqueName } from './backends.ts';
import {
  authorizeThroughLogin,
  Browser,
  basic,
  codeFlowTokens,
  codeRequest,
  deviceGrant,
  formOf,
  loginPage,
  password,
  pkcePair,
  postForm,
  serviceTokenRequest,
  testClients,
  tokenRequest,
  useServer,
} from './helpers.ts';

/** The login form of a new authorization request in `browser` (web-app; `extra` adds parameters). */
async function loginForm(browser: Browser, extra: Record<string, string> = {}) {
  const start = await browser.get(codeRequest(pkcePair(), { extra }));
  expect(start.statusCode).toBe(303);
  return formOf((await browser.get(start.headers.location as string)).body);
}

/** Signs in as `username` in `browser` from a new authorization request; the login answer. */
async function signIn(
  browser: Browser,
  username: string,
  secret: string,
  extra: Record<string, string> = {},
) {
  const { action, csrf } = await loginForm(browser, extra);
  return browser.post(action, { csrf, username, password: secret });
}

// The same behaviour from the in-memory counters (one node) and the Redis ones (shared by nodes).
describe.each(['memory', 'redis'] as const)('rate limits (%s counters)', (store) => {
  const keyPrefix = `${uniqueName('gh_rl')}:`;
  // Registered before useServer's hook, so a missing Redis is reported before the server tries it.
  beforeAll(async () => {
    if (store === 'redis') await requireService('redis');
  });
  afterAll(async () => {
    if (store === 'redis') await dropRedisPrefix(keyPrefix);
  });
  const server = useServer({
    ...(store === 'redis' ? { redis: { url: redisUrl, keyPrefix } } : {}),
    rateLimits: {
      tokenPerIp: { limit: 5, window: 60 },
      tokenPerClient: { limit: 3, window: 30 },
      authorizePerIp: { limit: 4, window: 60 },
      deviceAuthorizationPerClient: { limit: 2, window: 60 },
      loginFreeFailures: 3,
      loginMaxDelay: 60,
    },
    clients: [
      ...testClients(),
      {
        clientId: 'device-app',
        name: 'TV Device',
        tokenEndpointAuthMethod: 'none',
        grantTypes: [deviceGrant],
        scopes: ['openid', 'api1.read'],
      },
    ],
  });

  it('limits the token endpoint per client with 429, Retry-After and an RFC 6749 JSON body, then recovers', async () => {
    for (let i = 0; i < 3; i++) expect((await serviceTokenRequest(server)).status).toBe(200);
    const limited = await serviceTokenRequest(server);
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'too many requests; try again later',
    });
    expect(limited.headers['retry-after']).toBe('30');
    expect(limited.headers['cache-control']).toBe('no-store');
    server.clock.advance(30);
    expect((await serviceTokenRequest(server)).status).toBe(200);
  });

  it('limits the token endpoint per IP whatever the client', async () => {
    server.clock.advance(60);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (await tokenRequest(server, { grant_type: 'client_credentials' }, basic('nobody', 'x'))).status,
      );
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    server.clock.advance(60);
  });

  it('limits /authorize per IP with an HTML 429 page', async () => {
    server.clock.advance(60);
    const browser = new Browser(server);
    const url = codeRequest(pkcePair());
    for (let i = 0; i < 4; i++) expect((await browser.get(url)).statusCode).toBe(303);
    const limited = await browser.get(url);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.headers['content-type']).toMatch(/^text\/html/);
    expect(limited.body).toContain('Too many attempts');
    server.clock.advance(60);
  });

  it('locks a username after repeated failed logins, with growing delays, and lets the right password in afterwards', async () => {
    server.clock.advance(120);
    const {
      browser,
      form: { action, csrf },
    } = await loginPage(server);
    const attempt = (pass: string) => browser.post(action, { csrf, username: 'bob', password: pass });

    for (let i = 0; i < 3; i++) expect((await attempt('wrong')).statusCode).toBe(401);
    // The fourth failure locks for 1 s, the fifth for 2 s: the delay doubles.
    expect((await attempt('wrong')).statusCode).toBe(401);
    const locked = await attempt(password);
    expect(locked.statusCode).toBe(429);
    expect(locked.body).toContain('Too many failed sign-in attempts. Try again in 1 seconds.');
    server.clock.advance(1);
    expect((await attempt('wrong')).statusCode).toBe(401);
    const lockedLonger = await attempt(password);
    expect(lockedLonger.statusCode).toBe(429);
    expect(lockedLonger.body).toContain('Try again in 2 seconds.');
    // Another username is not affected.
    expect(
      (await browser.post(action, { csrf, username: 'nobody-else', password: 'wrong' })).statusCode,
    ).toBe(401);
    server.clock.advance(2);
    expect((await attempt(password)).statusCode).toBe(303);
  });

  it('limits a public client per client and address: one address spending it leaves others their tokens', async () => {
    server.clock.advance(60);
    const native = { clientId: 'native-app', redirectUri: 'http://127.0.0.1/callback' };
    const { tokens } = await codeFlowTokens(server, { ...native, scope: 'openid offline_access' }, {});
    expect(tokens.status).toBe(200);
    const refreshToken = tokens.body.refresh_token as string;
    // Anyone may name native-app: 3 garbage refreshes from one address spend that address's budget ...
    const attacker = '203.0.113.7';
    const garbage = { grant_type: 'refresh_token', client_id: 'native-app', refresh_token: 'garbage' };
    for (let i = 0; i < 3; i++)
      expect((await postForm(server, '/token', garbage, {}, attacker)).status).toBe(400);
    const limited = await postForm(server, '/token', garbage, {}, attacker);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('temporarily_unavailable');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // ... and the app's user at another address still refreshes.
    const refreshed = await tokenRequest(server, {
      grant_type: 'refresh_token',
      client_id: 'native-app',
      refresh_token: refreshToken,
    });
    expect(refreshed.status).toBe(200);
    server.clock.advance(60);
  });

  it('limits /device_authorization of a public client per address, with Retry-After', async () => {
    server.clock.advance(60);
    const request = { client_id: 'device-app', scope: 'openid' };
    const attacker = '203.0.113.8';
    for (let i = 0; i < 2; i++)
      expect((await postForm(server, '/device_authorization', request, {}, attacker)).status).toBe(200);
    const limited = await postForm(server, '/device_authorization', request, {}, attacker);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const elsewhere = await postForm(server, '/device_authorization', request, {}, '198.51.100.20');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.user_code).toBeDefined();
    server.clock.advance(60);
  });

  it('counts failed logins per username and address: another address still signs in', async () => {
    server.clock.advance(120);
    const guesser = new Browser(server, '203.0.113.9');
    const { action, csrf } = await loginForm(guesser);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await guesser.post(action, { csrf, username: 'bob', password: 'wrong' })).statusCode);
    // Three free failures, the fourth locks this address for 1 s, the fifth is refused with Retry-After.
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    const locked = await guesser.post(action, { csrf, username: 'bob', password });
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBe('1');
    // Bob, at another address and in another browser, is not locked out by them.
    expect((await signIn(new Browser(server, '198.51.100.30'), 'bob', password)).statusCode).toBe(303);
    server.clock.advance(120);
  });

  it('keeps a browser that signed in before working through failures from 200 addresses; others are slowed', async () => {
    server.clock.advance(1000);
    const victim = new Browser(server, '192.0.2.50');
    await authorizeThroughLogin(victim, codeRequest(pkcePair()), { username: 'alice', password });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const attacker = new Browser(server, `198.18.${i >> 8}.${i & 255}`);
      const answer = await signIn(attacker, 'alice', `guess-${i}`);
      statuses.push(answer.statusCode);
      if (answer.statusCode === 429) expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    }
    // The softer per-username rule for browsers that never signed in as alice: 20 free failures, then the
    // 21st locks the username for them (for 1 s, doubling up to 300 s); the rest are refused unread.
    expect(statuses.filter((status) => status === 401)).toHaveLength(21);
    expect(statuses.filter((status) => status === 429)).toHaveLength(179);
    // The victim's own browser, known from its earlier sign-in, still signs in.
    const known = await signIn(victim, 'alice', password, { prompt: 'login' });
    expect(known.statusCode).toBe(303);
    expect(known.headers.location).not.toContain('error');
    // A browser unknown to alice, at a fresh address, waits for the per-username lock, then signs in.
    const stranger = new Browser(server, '192.0.2.99');
    const { action, csrf } = await loginForm(stranger);
    const slowed = await stranger.post(action, { csrf, username: 'alice', password });
    expect(slowed.statusCode).toBe(429);
    expect(slowed.headers['retry-after']).toBe('1');
    server.clock.advance(1);
    expect((await stranger.post(action, { csrf, username: 'alice', password })).statusCode).toBe(303);
  });
});

describe('default budgets', () => {
  const server = useServer();

  it('do not throttle a busy confidential client: 1,300 token requests in a minute from one address', async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1300; i++) {
      const { status } = await serviceTokenRequest(server);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 1300 });
  });
});
