/**
 * A themed German sign-in in real Chromium (playwright-core): the language chosen once by `ui_locales=de`
 * on /authorize and once by the browser's `Accept-Language: de-DE`. The page shows German labels and the
 * product name, its logo loads and the extra stylesheet applies under the page CSP (which the console would
 * report breaking), a wrong password shows the German error tied to the password field, which has the
 * focus, and signing in and consenting in German ends back at the client with a code.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../tools/test-services.ts';
import { de } from '../src/views/locales/de.ts';
import {
  buildServer,
  codeParams,
  type GatehouseServer,
  parseConfig,
  password,
  pkcePair,
  testClients,
  testConfig,
} from './helpers.ts';
import { callbackSite, closeAll, freePort, patience } from './interop-helpers.ts';
import { themeDirectory, themedUi } from './theme-fixtures.ts';

let gatehouse: GatehouseServer;
let issuer: string;
let browser: Browser;
/** The client's redirect URI, on a server of this test's that answers any request. */
let callback: string;
let clientSite: { close(): Promise<void> };

beforeAll(async () => {
  const [port, clientPort] = await Promise.all([freePort(), freePort()]);
  issuer = `http://127.0.0.1:${port}`;
  callback = `http://127.0.0.1:${clientPort}/callback`;
  clientSite = await callbackSite(clientPort);
  const dir = themeDirectory();
  const raw = testConfig({
    issuer,
    server: { host: '127.0.0.1', port },
    ui: themedUi,
    clients: testClients({ 'web-app': { redirectUris: [callback] } }),
  });
  writeFileSync(join(dir, 'gatehouse.json'), JSON.stringify(raw));
  gatehouse = await buildServer(parseConfig(raw, process.env, dir));
  await gatehouse.listen();
  browser = await launchChromium();
}, 180_000);

afterAll(() => closeAll(browser, clientSite, gatehouse));

/**
 * Opens `authorizeUrl` in `context`, checks the German themed login page, signs in with a wrong password and
 * then the right one, allows access on the German consent page, and returns the URL the client got.
 */
async function signInInGerman(context: BrowserContext, authorizeUrl: string, username: string): Promise<URL> {
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => console.push(`pageerror: ${error.message}`));
  const failed: string[] = [];
  page.on('response', (response) => {
    if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => failed.push(`failed ${request.url()}`));

  // Evaluated in the page (strings: this file is not compiled with the DOM types).
  const computed = (selector: string, property: string) =>
    page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(selector)})).${property}`);
  const focused = () => page.evaluate('document.activeElement && document.activeElement.id');

  await page.goto(authorizeUrl, { waitUntil: 'load', ...patience });
  expect(await page.getAttribute('html', 'lang')).toBe('de');
  expect(await page.textContent('label[for=username]')).toBe(de['login.username']);
  expect(await page.textContent('label[for=password]')).toBe(de['login.password']);
  expect(await page.textContent('h1')).toBe(de['login.title']);
  expect(await page.textContent('header.brand')).toContain('Acme Identity');
  expect(await page.title()).toBe(`${de['login.title']} – Acme Identity`);
  // The logo loaded (img-src 'self'), the extra stylesheet applied (its URL in style-src) and so did the
  // inline one with the theme's colours (its hash).
  expect(await page.evaluate("document.querySelector('header.brand img').naturalWidth")).toBe(1);
  expect(await computed('h1', 'color')).toBe('rgb(10, 120, 30)');
  expect(await computed('button', 'backgroundColor')).toBe('rgb(170, 51, 0)');
  expect(await computed('body', 'backgroundColor')).toBe('rgb(16, 32, 48)');
  expect(await focused()).toBe('username');

  await page.fill('#username', username);
  await page.fill('#password', 'not the password');
  await Promise.all([page.waitForEvent('load', patience), page.click('button[type=submit]')]);
  const error = page.locator('#form-error');
  expect(await error.textContent()).toBe(de['login.invalid']);
  expect(await error.getAttribute('role')).toBe('alert');
  expect(await page.getAttribute('#password', 'aria-invalid')).toBe('true');
  expect(await page.getAttribute('#password', 'aria-describedby')).toBe('form-error');
  expect(await focused()).toBe('password');
  expect(await page.inputValue('#username')).toBe(username);

  await page.fill('#password', password);
  await Promise.all([page.waitForEvent('load', patience), page.click('button[type=submit]')]);
  expect(await page.textContent('h1')).toBe('Web Application möchte auf Ihr Konto zugreifen');
  expect(await page.textContent('#request-summary')).toBe('Web Application möchte:');
  await Promise.all([
    page.waitForURL(`${callback}?**`, patience),
    page.getByRole('button', { name: de['consent.allow'] }).click(),
  ]);
  expect(console.filter((line) => /content security policy|refused to/i.test(line))).toEqual([]);
  expect(console.filter((line) => line.startsWith('pageerror'))).toEqual([]);
  // The one failed answer is the wrong password's 401 (the browser's own favicon request aside).
  expect(failed.filter((line) => !line.endsWith('/favicon.ico'))).toEqual([
    expect.stringMatching(/^401 http:\/\/127\.0\.0\.1:\d+\/interaction\/[\w-]+\/login$/),
  ]);
  return new URL(page.url());
}

function authorizeUrl(extra: Record<string, string> = {}): string {
  const params = codeParams(pkcePair(), {
    scope: 'openid profile orders.read',
    redirectUri: callback,
    extra,
  });
  const url = new URL(`${issuer}/authorize`);
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}

describe('a themed German login page in Chromium', () => {
  it('is chosen by ui_locales=de on /authorize', async () => {
    // The browser itself asks for English: ui_locales wins.
    const context = await browser.newContext({ locale: 'en-US' });
    try {
      const back = await signInInGerman(context, authorizeUrl({ ui_locales: 'de' }), 'alice');
      expect(back.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(back.searchParams.get('iss')).toBe(issuer);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('is chosen by the browser language (Accept-Language: de-DE)', async () => {
    const context = await browser.newContext({ locale: 'de-DE' });
    try {
      const back = await signInInGerman(context, authorizeUrl(), 'bob');
      expect(back.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      await context.close();
    }
  }, 120_000);
});
