/**
 * The whole demo in a real browser: Chromium (Debian's, driven by playwright-core) opens the SPA example
 * served by the BFF, signs in on the real Gatehouse login page, sees the user and the orders from the
 * orders API example, adds an order, lives through an access-token expiry (the server, BFF and API clocks
 * are advanced together, and the old token is shown to be refused by the API) with one refresh, and signs
 * out through RP-initiated logout, after which the BFF answers 401. Sessions live in Redis.
 *
 * All along it checks that no token Gatehouse issued (captured from the server's own token responses)
 * ever appears in the page's HTML, in localStorage or sessionStorage, in document.cookie, or in any
 * response the page received.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpaServer } from '../../../examples/spa/src/app.ts';
import { redisUrl, requireChromium, requireService } from '../../../tools/test-services.ts';
import { hotp } from '../../server/src/authn/totp.ts';
import type { Bff } from '../src/index.ts';
import { RedisSessionStore } from '../src/stores/redis.ts';
import {
  bffSecret,
  closeServer,
  freePort,
  listen,
  password,
  type RunningGatehouse,
  startGatehouse,
  startOrdersApi,
  testClock,
} from './support.ts';

const clock = testClock();
let gatehouse: RunningGatehouse;
let orders: Server;
let ordersUrl: string;
let spa: Server;
let bff: Bff;
let origin: string;
let browser: Browser;
let redis: Redis;
const redisPrefix = `gatehouse-bff-spa-test:${randomBytes(6).toString('hex')}:`;
/** Every token Gatehouse put in a token response. */
let issued: Set<string>;
/** Every body the page received. */
const received: string[] = [];

beforeAll(async () => {
  const executablePath = requireChromium();
  await requireService('redis');
  const [spaPort, ordersPort] = [await freePort(), await freePort()];
  origin = `http://localhost:${spaPort}`;
  ordersUrl = `http://127.0.0.1:${ordersPort}`;
  gatehouse = await startGatehouse({
    bffOrigins: [origin],
    ordersUrl,
    clock,
    overrides: { tokens: { accessTokenTtl: 300 } },
  });
  issued = gatehouse.issuedTokens;
  // Cancelling needs a second factor, as in the demo (RFC 9470 step-up).
  orders = await startOrdersApi(gatehouse.issuer, ordersPort, clock, undefined, ['urn:gatehouse:acr:mfa']);
  redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  const server = createSpaServer({
    issuer: gatehouse.issuer,
    clientId: 'bff',
    clientSecret: bffSecret,
    origin,
    ordersUrl,
    secret: randomBytes(32).toString('base64url'),
    // Sessions in Redis, as a production deployment with several BFF nodes would keep them.
    bff: { clock, sweepInterval: 0, store: new RedisSessionStore(redis, { prefix: redisPrefix }) },
  });
  bff = server.bff;
  spa = await listen(createServer(server.app), spaPort);
  browser = await chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await closeServer(spa);
  await closeServer(orders);
  await bff?.close();
  if (redis !== undefined) {
    const keys = await redis.keys(`${redisPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  await gatehouse?.close();
});

/** Fails if any issued token shows up anywhere the page's scripts could read it. */
async function expectNoTokenInPage(page: Page): Promise<void> {
  // A string, evaluated in the page: the test's TypeScript has no DOM types.
  const exposed = (await page.evaluate(`({
    html: document.documentElement.outerHTML,
    cookie: document.cookie,
    local: JSON.stringify(Object.entries(localStorage)),
    session: JSON.stringify(Object.entries(sessionStorage)),
  })`)) as { html: string; cookie: string; local: string; session: string };
  expect(exposed.cookie).toBe('');
  const everything = [exposed.html, exposed.local, exposed.session, ...received].join('\n');
  expect(issued.size).toBeGreaterThan(0);
  for (const token of issued) expect(everything.includes(token)).toBe(false);
  expect(everything).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+/);
}

/** The browser waits for the app, not the other way round: a busy machine slows Chromium down. */
const patience = { timeout: 20_000, interval: 50 };

describe('the SPA example in Chromium', () => {
  it('signs in, lists orders, survives token expiry through one refresh, signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('response', async (response) => {
      if (!response.url().startsWith(origin)) return;
      const body = await response.text().catch(() => '');
      received.push(body);
    });

    await page.goto(`${origin}/`);
    await page.locator('#sign-in').waitFor();
    expect(await page.locator('#status').textContent()).toBe('Not signed in.');

    await page.click('#sign-in');
    await page.waitForURL(`${gatehouse.issuer}/**`);
    await page.fill('input[name="username"]', 'alice');
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');

    await page.waitForURL(`${origin}/`);
    await expect.poll(() => page.locator('#user-name').textContent(), patience).toBe('Alice Smith');
    await expect
      .poll(() => page.locator('#status').textContent(), patience)
      .toBe('Orders loaded (HTTP 200).');
    expect(await page.locator('#orders').textContent()).toBe('No orders yet.');

    const cookies = await context.cookies(origin);
    const session = cookies.find((cookie) => cookie.name === '__Host-bff-session');
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    expect(
      cookies.filter((cookie) => cookie.name.startsWith('__Host-bff')).map((cookie) => cookie.name),
    ).toEqual(['__Host-bff-session']);

    await page.fill('#item', 'green tea');
    await page.click('button[type="submit"]');
    await expect
      .poll(() => page.locator('li.order').allTextContents(), patience)
      .toEqual(['1 x green tea (open) Cancel']);
    await expectNoTokenInPage(page);

    // Past the access token's lifetime, on every clock at once: the old token is refused by the API...
    const accessToken = [...issued]
      .filter((token) => token.split('.').length === 3)
      .filter(
        (token) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).typ === 'at+jwt',
      )
      .at(-1);
    const ordersWith = (token: string | undefined) =>
      fetch(`${ordersUrl}/orders`, { headers: { authorization: `Bearer ${token}` } });
    expect((await ordersWith(accessToken)).status).toBe(200);
    // 300 s of lifetime plus the API's accepted clock skew (10 s by default).
    clock.advance(330);
    expect((await ordersWith(accessToken)).status).toBe(401);
    // ...and the SPA's next call still works, through exactly one refresh.
    const tokenRequests = gatehouse.count('POST /token');
    const [reloaded] = await Promise.all([
      page.waitForResponse((response) => response.url() === `${origin}/bff/api/orders/orders`),
      page.click('#reload'),
    ]);
    expect(reloaded.status()).toBe(200);
    await expect
      .poll(() => page.locator('#status').textContent(), patience)
      .toBe('Orders loaded (HTTP 200).');
    expect(await page.locator('li.order').allTextContents()).toEqual(['1 x green tea (open) Cancel']);
    expect(gatehouse.count('POST /token') - tokenRequests).toBe(1);
    await expectNoTokenInPage(page);

    // At rest the session is sealed: no token in any value the BFF wrote to Redis.
    const stored: string[] = [];
    for (const key of await redis.keys(`${redisPrefix}*`)) {
      stored.push(
        (await redis.type(key)) === 'set'
          ? (await redis.smembers(key)).join(' ')
          : String(await redis.get(key)),
      );
    }
    expect(stored.some((value) => value.includes('"data"'))).toBe(true);
    for (const token of issued) expect(stored.join('\n').includes(token)).toBe(false);

    await page.click('#sign-out');
    await page.waitForURL(`${origin}/`);
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    const after = await page.evaluate(async () => {
      const response = await fetch('/bff/user', { headers: { 'X-CSRF': '1' } });
      return response.status;
    });
    expect(after).toBe(401);
    const api = await page.evaluate(
      async () => (await fetch('/bff/api/orders/orders', { headers: { 'X-CSRF': '1' } })).status,
    );
    expect(api).toBe(401);
    await expectNoTokenInPage(page);
    await context.close();
  }, 120_000);

  it('steps up to a second factor when cancelling an order: SPA -> BFF -> orders API 401 insufficient_user_authentication -> Gatehouse asks for the second factor -> the retried cancel succeeds', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.click('#sign-in');
    await page.waitForURL(`${gatehouse.issuer}/**`);
    await page.fill('input[name="username"]', 'bob');
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${origin}/`);
    await expect
      .poll(() => page.locator('#status').textContent(), patience)
      .toBe('Orders loaded (HTTP 200).');
    await page.fill('#item', 'teapot');
    await page.click('#new-order button[type="submit"]');
    await expect
      .poll(() => page.locator('li.order').allTextContents(), patience)
      .toEqual(['1 x teapot (open) Cancel']);

    // The password-only token may not cancel: the BFF hands the app a login URL with acr_values.
    const [refused] = await Promise.all([
      page.waitForResponse((response) => response.url().endsWith('/cancel')),
      page.click('li.order button.cancel'),
    ]);
    expect(refused.status()).toBe(401);
    // Gatehouse keeps the password session and asks only for the second factor: bob has none yet, so
    // the enrolment page with its QR code.
    await page.waitForURL(`${gatehouse.issuer}/interaction/**`);
    expect(await page.locator('input[name="password"]').count()).toBe(0);
    await page.locator('svg').first().waitFor();
    const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
    await page.fill('input[name="code"]', hotp(secret, Math.floor(clock() / 30)));
    await page.click('button[type="submit"]');
    await page.locator('#recovery-codes').waitFor();
    expect(await page.locator('#recovery-codes li').count()).toBe(10);
    await page.click('a.back');

    // Back in the app, the cancel is retried with the new token (acr mfa) and succeeds.
    await page.waitForURL(`${origin}/`);
    await expect.poll(() => page.locator('#status').textContent(), patience).toBe('Order cancelled.');
    await expect
      .poll(() => page.locator('li.order').allTextContents(), patience)
      .toEqual(['1 x teapot (cancelled)']);
    await expectNoTokenInPage(page);
    await context.close();
  }, 120_000);
});
