import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix, redisUrl, requireService, uniqueName } from './backends.ts';
import {
  Browser,
  basic,
  codeRequest,
  formOf,
  password,
  pkcePair,
  serviceSecret,
  tokenRequest,
  useServer,
} from './helpers.ts';

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
      loginFreeFailures: 3,
      loginMaxDelay: 60,
    },
  });

  it('limits the token endpoint per client with 429, Retry-After and an RFC 6749 JSON body, then recovers', async () => {
    const service = basic('service-a', serviceSecret);
    for (let i = 0; i < 3; i++)
      expect((await tokenRequest(server, { grant_type: 'client_credentials' }, service)).status).toBe(200);
    const limited = await tokenRequest(server, { grant_type: 'client_credentials' }, service);
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'too many requests; try again later',
    });
    expect(limited.headers['retry-after']).toBe('30');
    expect(limited.headers['cache-control']).toBe('no-store');
    server.clock.advance(30);
    expect((await tokenRequest(server, { grant_type: 'client_credentials' }, service)).status).toBe(200);
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
    const browser = new Browser(server);
    const start = await browser.get(codeRequest(pkcePair()));
    const page = await browser.get(start.headers.location as string);
    const { action, csrf } = formOf(page.body);
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
});
