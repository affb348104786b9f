/**
 * A public client registered with the CLI, used from its own origin in real Chromium (playwright-core):
 * a page served from the client's origin (http://localhost:<port>, the origin of its redirect URI) reads
 * discovery with fetch(), sends the user to /authorize with PKCE, and on its callback exchanges the code at
 * /token and calls /userinfo (a preflighted request, for the Authorization header) with fetch(). The same
 * page served from another origin cannot read discovery: the browser enforces what the server allows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type GatehouseServer, parseConfig, password, testConfig } from './helpers.ts';
import { freePort } from './interop-helpers.ts';
import { runGatehouse } from './processes.ts';

let gatehouse: GatehouseServer;
let issuer: string;
let spaOrigin: string;
let otherOrigin: string;
let spa: Server;
let browser: Browser;

/** The single-page app: `/` starts the sign-in, `/callback` redeems the code; both only use fetch(). */
function spaPage(issuerUrl: string, clientId: string, redirectUri: string): string {
  return `<!doctype html><meta charset="utf-8"><title>SPA</title><pre id="result"></pre><script type="module">
const issuer = ${JSON.stringify(issuerUrl)};
const clientId = ${JSON.stringify(clientId)};
const redirectUri = ${JSON.stringify(redirectUri)};
const show = (value) => { document.getElementById('result').textContent = JSON.stringify(value); };
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
try {
  const metadata = await (await fetch(issuer + '/.well-known/openid-configuration')).json();
  const code = new URLSearchParams(location.search).get('code');
  if (location.pathname === '/callback' && code) {
    const response = await fetch(metadata.token_endpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: redirectUri,
        code_verifier: sessionStorage.getItem('verifier'),
      }),
    });
    const tokens = await response.json();
    const userinfo = await fetch(metadata.userinfo_endpoint, { headers: { authorization: 'Bearer ' + tokens.access_token } });
    show({ step: 'done', tokenStatus: response.status, tokenType: tokens.token_type, hasIdToken: typeof tokens.id_token === 'string', userinfoStatus: userinfo.status, userinfo: await userinfo.json() });
  } else if (location.pathname === '/') {
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    sessionStorage.setItem('verifier', verifier);
    const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const url = new URL(metadata.authorization_endpoint);
    for (const [name, value] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri,
      scope: 'openid profile', state: 'spa-state', code_challenge: challenge, code_challenge_method: 'S256' })) url.searchParams.set(name, value);
    location.assign(url.href);
  } else {
    show({ step: 'discovery', issuer: metadata.issuer });
  }
} catch (error) {
  show({ step: 'failed', error: String(error) });
}
</script>`;
}

beforeAll(async () => {
  const [gatehousePort, spaPort] = await Promise.all([freePort(), freePort()]);
  issuer = `http://127.0.0.1:${gatehousePort}`;
  spaOrigin = `http://localhost:${spaPort}`;
  // The same page from another origin: the loopback IP literal is not the client's (localhost) origin.
  otherOrigin = `http://127.0.0.1:${spaPort}`;
  const redirectUri = `${spaOrigin}/callback`;
  const raw = testConfig({ issuer, server: { host: '127.0.0.1', port: gatehousePort } });
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-cors-browser-')), 'gatehouse.json');
  writeFileSync(file, JSON.stringify(raw));
  const added = await runGatehouse([
    'client',
    'add',
    '--id',
    'browser-spa',
    '--name',
    'Browser SPA',
    '--public',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    redirectUri,
    '--scope',
    'openid profile',
    '--no-consent',
    '--config',
    file,
  ]);
  expect(added.code, added.stderr).toBe(0);

  gatehouse = await buildServer(parseConfig(raw));
  await gatehouse.listen();
  const page = spaPage(issuer, 'browser-spa', redirectUri);
  spa = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
  await new Promise<void>((resolve) => spa.listen(spaPort, '127.0.0.1', resolve));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => spa?.close(resolve));
  await gatehouse?.close();
});

/** The browser waits for the app, not the other way round: a busy machine slows Chromium down. */
const patience = { timeout: 30_000, interval: 100 };

describe('a CLI-registered public client in Chromium', () => {
  it('reads discovery, exchanges its code at /token and calls /userinfo with fetch() from its origin', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${spaOrigin}/`);
      await page.waitForURL(`${issuer}/interaction/**`, { timeout: 30_000 });
      await page.fill('input[name="username"]', 'alice');
      await page.fill('input[name="password"]', password);
      await page.click('button[type="submit"]');
      await page.waitForURL(`${spaOrigin}/callback?**`, { timeout: 30_000 });
      expect(new URL(page.url()).searchParams.get('state')).toBe('spa-state');
      const result = async () => JSON.parse((await page.locator('#result').textContent()) || '{}');
      await expect.poll(async () => (await result()).step, patience).toBe('done');
      expect(await result()).toMatchObject({
        tokenStatus: 200,
        tokenType: 'Bearer',
        hasIdToken: true,
        userinfoStatus: 200,
        userinfo: { name: 'Alice Smith', preferred_username: 'alice' },
      });
    } finally {
      await context.close();
    }
  }, 120_000);

  it('is refused by the browser from another origin', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${spaOrigin}/probe`);
      const read = async () => JSON.parse((await page.locator('#result').textContent()) || '{}');
      await expect.poll(async () => (await read()).step, patience).toBe('discovery');
      expect(await read()).toEqual({ step: 'discovery', issuer });

      await page.goto(`${otherOrigin}/probe`);
      await expect.poll(async () => (await read()).step, patience).toBe('failed');
      expect((await read()).error).toMatch(/TypeError/);
    } finally {
      await context.close();
    }
  }, 60_000);
});
