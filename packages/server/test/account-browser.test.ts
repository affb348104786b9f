/**
 * The account page in real Chromium (playwright-core), against Gatehouse on a real port: a user signs in to
 * a client app through a real code flow (the app redeems the code over HTTP and holds a refresh token),
 * opens /account in the same browser and revokes the app, after which the app's refresh token fails with
 * invalid_grant; and a session ended from the account page (in another browser) reaches the app's
 * back-channel logout URI, a real HTTP listener here, with a logout token that verifies against /jwks; and a
 * passkey (a CDP virtual authenticator) added through the account page's link and then asked for, and used,
 * at the account page's sign-in.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../tools/test-services.ts';
import { en } from '../src/views/locales/en.ts';
import {
  buildServer,
  codeParams,
  form,
  parseConfig,
  password,
  pkcePair,
  testClients,
  testConfig,
  webAppAuth,
} from './helpers.ts';
import {
  callbackSite,
  closeAll,
  freePort,
  type ListeningServer,
  pageWithAuthenticator,
  patience,
  Receiver,
  startListening,
} from './interop-helpers.ts';

let gatehouse: ListeningServer;
let browser: Browser;
let receiver: Receiver;
let clientSite: { close(): Promise<void> };
/** The client's redirect URI, on a server of this test's that answers any request. */
let callback: string;

beforeAll(async () => {
  const clientPort = await freePort();
  callback = `http://127.0.0.1:${clientPort}/callback`;
  clientSite = await callbackSite(clientPort);
  receiver = await new Receiver((_index, received) => received.response.writeHead(200).end()).start();
  gatehouse = await startListening({
    clients: testClients({
      'web-app': { redirectUris: [callback], backchannelLogoutUri: `${receiver.url}/backchannel` },
    }),
  });
  browser = await launchChromium();
}, 180_000);

afterAll(() => closeAll(browser, receiver, clientSite, gatehouse));

/** Submits the form `button` is in and waits for the page it leads to. */
async function press(page: Page, button: ReturnType<Page['locator']>): Promise<void> {
  await Promise.all([page.waitForEvent('load', patience), button.click()]);
}

/** The token endpoint as the web app calls it (client_secret_basic), over HTTP. */
async function tokenRequest(values: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(`${gatehouse.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: webAppAuth,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form(values),
  });
  return (await response.json()) as Record<string, unknown>;
}

/**
 * Signs alice in to web-app in `context` through /authorize, the login page and the consent page; the app
 * redeems the code. Returns its tokens.
 */
async function signInToWebApp(context: BrowserContext): Promise<Record<string, unknown>> {
  const pkce = pkcePair();
  const url = new URL(`${gatehouse.issuer}/authorize`);
  const params = codeParams(pkce, {
    redirectUri: callback,
    scope: 'openid profile offline_access orders.read',
  });
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(name, value);
  const page = await context.newPage();
  await page.goto(url.href, { waitUntil: 'load', ...patience });
  await page.fill('#username', 'alice');
  await page.fill('#password', password);
  await press(page, page.locator('button[type=submit]'));
  await Promise.all([
    page.waitForURL(`${callback}?**`, patience),
    page.getByRole('button', { name: en['consent.allow'] }).click(),
  ]);
  const code = new URL(page.url()).searchParams.get('code');
  await page.close();
  expect(code).toMatch(/^[\w-]{43}$/);
  const tokens = await tokenRequest({
    grant_type: 'authorization_code',
    code: code!,
    redirect_uri: callback,
    code_verifier: pkce.verifier,
  });
  expect(tokens.refresh_token).toEqual(expect.any(String));
  return tokens;
}

/** Opens /account in `context`, signing in on its form when the browser has no session. */
async function openAccount(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${gatehouse.issuer}/account`, { waitUntil: 'load', ...patience });
  if ((await page.locator('#password').count()) > 0 && (await page.locator('#username').count()) > 0) {
    await page.fill('#username', 'alice');
    await page.fill('#password', password);
    await press(page, page.locator('button[type=submit]'));
  }
  expect(await page.textContent('h1')).toBe(en['account.title']);
  return page;
}

describe('the account page in Chromium', () => {
  it("revokes a connected app: the app's refresh token fails at once with invalid_grant", async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    try {
      const tokens = await signInToWebApp(context);
      // The same browser is signed in: /account opens without a sign-in.
      const page = await context.newPage();
      await page.goto(`${gatehouse.issuer}/account`, { waitUntil: 'load', ...patience });
      expect(await page.textContent('h1')).toBe(en['account.title']);
      expect(await page.textContent('#profile')).toContain('Alice Smith');
      const app = page.locator('li.application[data-client-id="web-app"]');
      expect(await app.textContent()).toContain('Web Application');
      expect(await app.textContent()).toContain('orders.read');
      // Before: the refresh token works (and rotates).
      const refreshed = await tokenRequest({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token as string,
      });
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      await press(page, app.getByRole('button', { name: en['account.apps.revoke'] }));
      expect(await page.textContent('p.notice')).toBe(en['account.notice.applicationRevoked']);
      expect(await page.locator('li.application[data-client-id="web-app"]').count()).toBe(0);
      const refused = await tokenRequest({
        grant_type: 'refresh_token',
        refresh_token: refreshed.refresh_token as string,
      });
      expect(refused.error).toBe('invalid_grant');
    } finally {
      await context.close();
    }
  }, 120_000);

  it("ends a session from the account page: the app's back-channel logout URI gets a logout token", async () => {
    const appBrowser = await browser.newContext({ locale: 'en-US' });
    const accountBrowser = await browser.newContext({ locale: 'en-US' });
    try {
      await signInToWebApp(appBrowser);
      const appSid = (await (await openAccount(appBrowser)).getAttribute('li.session.current', 'data-sid'))!;
      const page = await openAccount(accountBrowser);
      const current = await page.getAttribute('li.session.current', 'data-sid');
      expect(current).not.toBe(appSid);
      const session = page.locator(`li.session[data-sid="${appSid}"]`);
      expect(await session.textContent()).toContain('Web Application');
      const before = receiver.received.length;
      await press(page, session.getByRole('button', { name: en['account.sessions.end'] }));
      expect(await page.textContent('p.notice')).toBe(en['account.notice.sessionEnded']);
      expect(await page.locator(`li.session[data-sid="${appSid}"]`).count()).toBe(0);
      await receiver.requests(before + 1);
      const delivered = receiver.received[before]!;
      expect(delivered.path).toBe('/backchannel');
      const { payload } = await jwtVerify(
        delivered.body.get('logout_token') ?? '',
        createRemoteJWKSet(new URL(`${gatehouse.issuer}/jwks`)),
        { issuer: gatehouse.issuer, audience: 'web-app', typ: 'logout+jwt' },
      );
      const alice = await gatehouse.ctx.accounts.findByUsername('alice');
      expect(payload.sub).toBe(alice?.subject);
      expect(payload.sid).toBe(appSid);
      expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
      // The ended browser is signed out: /account asks it to sign in.
      const ended = await appBrowser.newPage();
      await ended.goto(`${gatehouse.issuer}/account`, { waitUntil: 'load', ...patience });
      expect(await ended.textContent('h1')).toBe(en['login.title']);
    } finally {
      await appBrowser.close();
      await accountBrowser.close();
    }
  }, 120_000);

  it('steps a password sign-in up with a passkey at the account page (webauthn.enabled, RP ID localhost)', async () => {
    // An RP ID must be a domain name: this server's issuer is http://localhost (a secure context).
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const passkeyServer = await buildServer(
      parseConfig(testConfig({ issuer, server: { host: '127.0.0.1', port }, webauthn: { enabled: true } })),
    );
    await passkeyServer.listen();
    const { context, page } = await pageWithAuthenticator(browser);
    try {
      const signIn = async () => {
        await page.goto(`${issuer}/account`, { waitUntil: 'load', ...patience });
        await page.fill('#username', 'alice');
        await page.fill('#password', password);
        await press(page, page.locator('button[type=submit]'));
      };
      await signIn();
      expect(await page.textContent('h1')).toBe(en['account.title']);
      // The factors section sends the user to /mfa, whose page runs the ceremony, to add a passkey.
      await press(page, page.getByRole('link', { name: en['passkey.add'] }));
      await page.fill('#nickname', 'Laptop');
      await press(page, page.locator('#passkey-create'));
      await page.goto(`${issuer}/account`, { waitUntil: 'load', ...patience });
      expect(await page.textContent('#factors')).toContain('Laptop');
      expect(await page.locator('script').count()).toBe(0);
      // A new password sign-in is asked for the passkey before the account page opens.
      await context.clearCookies();
      await signIn();
      expect(await page.textContent('h1')).toBe(en['mfa.title']);
      await press(page, page.locator('#passkey-get'));
      expect(await page.textContent('h1')).toBe(en['account.title']);
      expect(await page.textContent('li.session.current')).toContain(en['account.sessions.secondFactor']);
    } finally {
      await context.close();
      await passkeyServer.close();
    }
  }, 120_000);
});
