/**
 * Passkeys in real Chromium (issue 17): a virtual authenticator added through the DevTools protocol
 * (`WebAuthn.addVirtualAuthenticator`: CTAP2, internal, resident keys, user verification) does the
 * browser's half of the ceremonies the pages' script starts, against the server on http://localhost
 * (an RP ID must be a domain name; Chromium treats localhost as a secure context). Covered: a passkey
 * enrolled during a sign-in that needs the second factor, a password then a passkey, passkey-first sign-in
 * with no username typed (tokens redeemed by openid-client: amr and acr), a CIBA request approved on
 * /bc-approve and a device code on /device with the passkey as the second factor (link-sign-in.ts), a
 * replayed assertion and a second assertion over a used challenge refused, another account's credential
 * refused, linking an upstream identity to an account after its password and its passkey
 * (sessions/upstream-link.ts), and the CSP of every page seen: the ceremony pages allow their one script
 * by a per-response nonce, all others run none.
 */
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../tools/test-services.ts';
import { en } from '../src/views/locales/en.ts';
import {
  basic,
  buildServer,
  cibaGrant,
  deviceGrant,
  type GatehouseServer,
  parseConfig,
  password,
  postForm,
  testClients,
  testConfig,
  tokenRequest,
  webSecret,
} from './helpers.ts';
import {
  authorizationParameters,
  callbackSite,
  closeAll,
  type Driven,
  freePort,
  pageWithAuthenticator,
  patience,
} from './interop-helpers.ts';
import { type HostileUpstream, startHostileUpstream } from './upstream-helpers.ts';

let gatehouse: GatehouseServer;
let issuer: string;
let browser: Browser;
let callback: string;
let clientSite: { close(): Promise<void> };
/** An upstream provider for linking (upstream-helpers.ts); its authorization step is answered in-page. */
let hostile: HostileUpstream;

const mfaAcr = 'urn:gatehouse:acr:mfa';
const tellerSecret = 'teller-test-secret-0123456789-abcdefghijklmnopq';
/** The approval links the CIBA notifier was given (endpoints/backchannel-approval.ts). */
const approvalLinks: string[] = [];
beforeAll(async () => {
  const [port, clientPort] = await Promise.all([freePort(), freePort()]);
  issuer = `http://localhost:${port}`;
  callback = `http://localhost:${clientPort}/callback`;
  clientSite = await callbackSite(clientPort);
  hostile = await startHostileUpstream();
  gatehouse = await buildServer(
    parseConfig(
      testConfig({
        issuer,
        server: { host: '127.0.0.1', port },
        webauthn: { enabled: true },
        upstreams: [
          {
            id: 'partner',
            name: 'Partner',
            type: 'oidc',
            issuer: hostile.issuer,
            clientId: 'gatehouse',
            clientSecret: 'gatehouse-at-upstream-secret-0123456789-abcdef',
            allowPrivateAddresses: true,
          },
        ],
        clients: [
          ...testClients({
            'post-app': { redirectUris: [callback], upstreams: ['partner'] },
            'web-app': { redirectUris: [callback] },
          }),
          {
            clientId: 'teller',
            name: 'Bank Teller',
            secret: tellerSecret,
            grantTypes: [cibaGrant],
            scopes: ['openid'],
            backchannelTokenDeliveryMode: 'poll',
          },
          {
            clientId: 'tv',
            name: 'TV Device',
            tokenEndpointAuthMethod: 'none',
            grantTypes: [deviceGrant],
            scopes: ['openid'],
            requireMfa: true,
          },
        ],
      }),
    ),
    { backchannelNotifier: async (notification) => void approvalLinks.push(notification.approvalUrl) },
  );
  await gatehouse.listen();
  browser = await launchChromium();
}, 180_000);

afterAll(() => closeAll(browser, clientSite, gatehouse, hostile));

/** The credential ids the virtual authenticator holds, base64url as the server stores them. */
async function heldCredentials(driven: Driven): Promise<string[]> {
  const { credentials } = await driven.cdp.send('WebAuthn.getCredentials', {
    authenticatorId: driven.authenticatorId,
  });
  return credentials.map((credential) =>
    Buffer.from(credential.credentialId, 'base64').toString('base64url'),
  );
}

/**
 * Records the CSP of every page the browser loads from the issuer and the console's complaints; `check()`
 * asserts that a page with a script allows exactly it by its nonce and that every other page runs none,
 * and returns how many pages had the script.
 */
function watchPages(page: Page) {
  const seen: { url: string; csp: string; html: Promise<string> }[] = [];
  const complaints: string[] = [];
  page.on('response', (response) => {
    const type = response.headers()['content-type'] ?? '';
    if (response.url().startsWith(issuer) && type.startsWith('text/html'))
      seen.push({
        url: response.url(),
        csp: response.headers()['content-security-policy'] ?? '',
        html: response.text(),
      });
  });
  page.on('console', (message) => {
    if (/content security policy|refused to/i.test(message.text())) complaints.push(message.text());
  });
  page.on('pageerror', (error) => complaints.push(`pageerror: ${error.message}`));
  return {
    async check(): Promise<number> {
      let withScript = 0;
      const nonces = new Set<string>();
      for (const entry of seen) {
        const html = await entry.html;
        const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((match) => match[0]);
        expect(entry.csp, entry.url).toMatch(/^default-src 'none';/);
        if (scripts.length === 0) {
          expect(entry.csp, entry.url).not.toContain('script-src');
          continue;
        }
        withScript += 1;
        expect(scripts).toHaveLength(1);
        const nonce = / nonce="([^"]+)"/.exec(scripts[0]!)?.[1] ?? '';
        expect(nonce).toMatch(/^[A-Za-z0-9_-]{24}$/);
        nonces.add(nonce);
        expect(scripts[0]).toContain(`src="${issuer}/ui/webauthn.js"`);
        expect(entry.csp.endsWith(`; script-src 'nonce-${nonce}'`), entry.csp).toBe(true);
      }
      // A fresh nonce per response.
      expect(nonces.size).toBe(withScript);
      expect(complaints).toEqual([]);
      return withScript;
    },
  };
}

async function discover(clientId: string) {
  const auth =
    clientId === 'post-app' ? client.ClientSecretPost(webSecret) : client.ClientSecretBasic(webSecret);
  return client.discovery(new URL(issuer), clientId, webSecret, auth, {
    execute: [client.allowInsecureRequests],
  });
}

/** Starts a code flow of `clientId` in `page` (openid-client's parameters); returns how to finish it. */
async function startFlow(page: Page, clientId: string, extra: Record<string, string> = {}) {
  const config = await discover(clientId);
  const started = await authorizationParameters(
    callback,
    clientId === 'post-app' ? 'openid orders.read' : 'openid',
  );
  const url = client.buildAuthorizationUrl(config, { ...started.parameters, ...extra });
  await page.goto(url.href, { waitUntil: 'load', ...patience });
  return {
    /** Runs `action`, waits for the redirect to the client and redeems the code: the ID token's claims. */
    async finish(action: () => Promise<unknown>) {
      await Promise.all([page.waitForURL(`${callback}?**`, patience), action()]);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: started.verifier,
        expectedState: started.state,
        expectedNonce: started.nonce,
        idTokenExpected: true,
      });
      return tokens.claims()!;
    },
  };
}

async function submitPassword(page: Page, username: string): Promise<void> {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForEvent('load', patience),
    page.click('form[action$="/login"] button[type=submit]'),
  ]);
}

async function subjectOf(username: string): Promise<string> {
  const user = await gatehouse.ctx.storage.users.findByUsername(username);
  if (user === undefined) throw new Error(`no user ${username}`);
  return user.id;
}

/** Enrols a passkey for `username` through a sign-in that asks for mfa; returns the ID token's claims. */
async function enrolDuringSignIn(page: Page, username: string, nickname: string) {
  const flow = await startFlow(page, 'post-app', { acr_values: mfaAcr });
  await submitPassword(page, username);
  expect(await page.textContent('h1')).toBe(en['mfa.enrol.title']);
  await page.fill('#nickname', nickname);
  await Promise.all([page.waitForEvent('load', patience), page.click('#passkey-create')]);
  expect(await page.textContent('h1')).toBe(en['mfa.recovery.title']);
  expect(await page.locator('#recovery-codes li').count()).toBe(10);
  return flow.finish(() => page.click('a.back'));
}

/** The body the ceremony's form posts, captured instead of sent (the challenge stays unused). */
async function captureCeremony(page: Page, action: string, run: () => Promise<unknown>): Promise<string> {
  let captured: string | undefined;
  await page.route(`**${action}`, async (route) => {
    captured = route.request().postData() ?? '';
    await route.fulfill({ status: 204, body: '' });
  });
  await run();
  await expect.poll(() => captured, patience).toBeDefined();
  await page.unroute(`**${action}`);
  return captured!;
}

describe('passkeys in Chromium with a virtual authenticator', () => {
  let alice: Driven;
  let bob: Driven;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([pageWithAuthenticator(browser), pageWithAuthenticator(browser)]);
  });
  afterAll(async () => {
    await alice?.context.close();
    await bob?.context.close();
  });

  it('enrols a passkey during a sign-in that needs a second factor: amr pwd hwk mfa', async () => {
    const watch = watchPages(alice.page);
    const claims = await enrolDuringSignIn(alice.page, 'alice', 'Work laptop');
    expect(claims.sub).toBe(await subjectOf('alice'));
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    const stored = await gatehouse.ctx.storage.webauthn.listCredentials(await subjectOf('alice'));
    expect(stored).toEqual([
      expect.objectContaining({
        nickname: 'Work laptop',
        transports: ['internal'],
        discoverable: true,
        lastUsedAt: null,
      }),
    ]);
    expect(await heldCredentials(alice)).toEqual([stored[0]!.credentialId]);
    // The login page and the enrolment page ran the script; the recovery codes page ran none.
    expect(await watch.check()).toBe(2);
  }, 120_000);

  it('signs in with the password, then the passkey as the second factor', async () => {
    await alice.context.clearCookies();
    const watch = watchPages(alice.page);
    const flow = await startFlow(alice.page, 'post-app', { acr_values: mfaAcr });
    await submitPassword(alice.page, 'alice');
    expect(await alice.page.textContent('h1')).toBe(en['mfa.title']);
    const claims = await flow.finish(() => alice.page.click('#passkey-get'));
    expect(claims.sub).toBe(await subjectOf('alice'));
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    const [stored] = await gatehouse.ctx.storage.webauthn.listCredentials(await subjectOf('alice'));
    expect(stored?.lastUsedAt).toEqual(expect.any(Number));
    expect(await watch.check()).toBe(2);
  }, 120_000);

  it('approves a CIBA request asking for mfa on /bc-approve with the passkey: amr pwd hwk mfa', async () => {
    await alice.context.clearCookies();
    const watch = watchPages(alice.page);
    const teller = basic('teller', tellerSecret);
    const started = await postForm(
      gatehouse,
      '/bc-authorize',
      { scope: 'openid', login_hint: 'alice', binding_message: 'TX 4711', acr_values: mfaAcr },
      { authorization: teller },
    );
    expect(started.status, started.text).toBe(200);
    await alice.page.goto(approvalLinks.at(-1)!, { waitUntil: 'load', ...patience });
    await submitPassword(alice.page, 'alice');
    expect(await alice.page.textContent('h1')).toBe(en['mfa.title']);
    // alice has a passkey and no authenticator app: a recovery code or the passkey, no TOTP field.
    expect(await alice.page.locator('#code').count()).toBe(0);
    await Promise.all([alice.page.waitForEvent('load', patience), alice.page.click('#passkey-get')]);
    expect(await alice.page.textContent('h1')).toContain('Bank Teller');
    expect(await alice.page.textContent('body')).toContain('TX 4711');
    expect(await alice.page.textContent('button[value=approve]')).toBe(en['ciba.confirm.approve']);
    await Promise.all([alice.page.waitForEvent('load', patience), alice.page.click('button[value=approve]')]);
    expect(await alice.page.textContent('h1')).toBe(en['ciba.approved.title']);
    const tokens = await tokenRequest(
      gatehouse,
      { grant_type: cibaGrant, auth_req_id: started.body.auth_req_id as string },
      teller,
    );
    expect(tokens.status).toBe(200);
    const claims = decodeJwt(tokens.body.id_token as string);
    expect(claims.sub).toBe(await subjectOf('alice'));
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    // Only the second-factor page ran the script.
    expect(await watch.check()).toBe(1);
  }, 120_000);

  it('approves a device code of a client that requires MFA on /device with the passkey', async () => {
    await alice.context.clearCookies();
    const watch = watchPages(alice.page);
    const started = await postForm(gatehouse, '/device_authorization', { client_id: 'tv', scope: 'openid' });
    expect(started.status, started.text).toBe(200);
    const { device_code: deviceCode, verification_uri_complete: complete } = started.body as Record<
      string,
      string
    >;
    await alice.page.goto(complete!, { waitUntil: 'load', ...patience });
    await submitPassword(alice.page, 'alice');
    await Promise.all([
      alice.page.waitForEvent('load', patience),
      alice.page.click('form[action$="/device"] button[type=submit]'),
    ]);
    expect(await alice.page.textContent('h1')).toBe(en['mfa.title']);
    await Promise.all([alice.page.waitForEvent('load', patience), alice.page.click('#passkey-get')]);
    await Promise.all([alice.page.waitForEvent('load', patience), alice.page.click('button[value=approve]')]);
    expect(await alice.page.textContent('h1')).toBe(en['device.approved.title']);
    const tokens = await tokenRequest(gatehouse, {
      grant_type: deviceGrant,
      device_code: deviceCode,
      client_id: 'tv',
    });
    expect(tokens.status).toBe(200);
    const claims = decodeJwt(tokens.body.id_token as string);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect(await watch.check()).toBe(1);
  }, 120_000);

  it('signs in passkey-first with no username typed: amr hwk user mfa', async () => {
    await alice.context.clearCookies();
    const watch = watchPages(alice.page);
    const flow = await startFlow(alice.page, 'post-app');
    expect(await alice.page.textContent('#passkey-get')).toBe(en['passkey.signIn']);
    expect(await alice.page.inputValue('#username')).toBe('');
    const claims = await flow.finish(() => alice.page.click('#passkey-get'));
    expect(claims.sub).toBe(await subjectOf('alice'));
    expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect(await watch.check()).toBe(1);
  }, 120_000);

  it('refuses a replayed assertion and a second assertion over a used challenge', async () => {
    await alice.context.clearCookies();
    // web-app asks for consent, so the interaction stays open after the passkey: only the challenge decides.
    await startFlow(alice.page, 'web-app');
    const action = new URL((await alice.page.getAttribute('form[data-webauthn]', 'action'))!).pathname;
    const first = await captureCeremony(alice.page, action, () => alice.page.click('#passkey-get'));
    // The same options (the same challenge) once more: the authenticator signs again, with a higher counter.
    const second = await captureCeremony(alice.page, action, () =>
      alice.page.evaluate("document.querySelector('form[data-webauthn]').requestSubmit()"),
    );
    expect(new URLSearchParams(first).get('credential')).not.toBe(
      new URLSearchParams(second).get('credential'),
    );
    const post = (body: string) =>
      alice.context.request.post(`${issuer}${action}`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        data: body,
        maxRedirects: 0,
      });
    const accepted = await post(first);
    expect(accepted.status()).toBe(303);
    expect(accepted.headers().location).toMatch(/\/interaction\/[\w-]+$/);
    for (const body of [first, second]) {
      const refused = await post(body);
      expect(refused.status()).toBe(401);
      expect(await refused.text()).toContain(en['webauthn.failed']);
    }
  }, 120_000);

  it("refuses another account's credential as bob's second factor", async () => {
    await enrolDuringSignIn(bob.page, 'bob', 'Bob key');
    const aliceCredential = (
      await gatehouse.ctx.storage.webauthn.listCredentials(await subjectOf('alice'))
    )[0]!;
    // Alice's key, copied into bob's authenticator: the browser can now present it on bob's page.
    const { credentials } = await alice.cdp.send('WebAuthn.getCredentials', {
      authenticatorId: alice.authenticatorId,
    });
    await bob.cdp.send('WebAuthn.addCredential', {
      authenticatorId: bob.authenticatorId,
      credential: credentials[0]!,
    });
    await bob.context.clearCookies();
    await startFlow(bob.page, 'post-app', { acr_values: mfaAcr });
    await submitPassword(bob.page, 'bob');
    expect(await bob.page.textContent('h1')).toBe(en['mfa.title']);
    // The page's options name bob's credential; ask the authenticator for alice's instead.
    await bob.page.evaluate(`(() => {
      const form = document.querySelector('form[data-webauthn]');
      const options = JSON.parse(form.dataset.options);
      options.allowCredentials = [{ id: ${JSON.stringify(aliceCredential.credentialId)}, type: 'public-key' }];
      form.dataset.options = JSON.stringify(options);
    })()`);
    const [answer] = await Promise.all([
      bob.page.waitForResponse((response) => response.url().endsWith('/passkey'), patience),
      bob.page.click('#passkey-get'),
    ]);
    expect(answer.status()).toBe(401);
    await bob.page.waitForLoadState('load');
    expect(await bob.page.textContent('#form-error')).toBe(en['webauthn.unknown']);
    // Nothing was recorded for alice's credential.
    expect(await gatehouse.ctx.storage.webauthn.findCredential(aliceCredential.credentialId)).toEqual(
      aliceCredential,
    );
  }, 120_000);

  it("links an upstream identity to alice's account after her password and her passkey", async () => {
    await alice.context.clearCookies();
    // `idp` skips the chooser: the browser is at the upstream's authorization endpoint. The upstream signs
    // alice's upstream identity in and sends her back with the state and an ID token for the nonce.
    const flow = await startFlow(alice.page, 'post-app', { idp: 'partner' });
    const sent = new URL(alice.page.url());
    expect(sent.origin).toBe(hostile.issuer);
    const now = Math.floor(Date.now() / 1000);
    hostile.nextIdToken({
      iss: hostile.issuer,
      aud: 'gatehouse',
      sub: 'partner-alice',
      nonce: sent.searchParams.get('nonce')!,
      iat: now,
      exp: now + 300,
    });
    const back = new URLSearchParams({
      code: 'c',
      state: sent.searchParams.get('state')!,
      iss: hostile.issuer,
    });
    await alice.page.goto(`${issuer}/upstream/partner/callback?${back}`, { waitUntil: 'load', ...patience });
    expect(await alice.page.textContent('h1')).toBe(en['link.title']);
    await alice.page.fill('#username', 'alice');
    await alice.page.fill('#password', password);
    await Promise.all([
      alice.page.waitForEvent('load', patience),
      alice.page.click('form[action$="/link"] button[type=submit]'),
    ]);
    expect(await alice.page.textContent('h1')).toBe(en['mfa.title']);
    expect(await gatehouse.ctx.storage.upstreams.findLinkedUser('partner', 'partner-alice')).toBeUndefined();
    const claims = await flow.finish(() => alice.page.click('#passkey-get'));
    expect(claims.sub).toBe(await subjectOf('alice'));
    expect(claims.amr).toEqual(['fed', 'pwd', 'hwk', 'mfa']);
    expect(await gatehouse.ctx.storage.upstreams.findLinkedUser('partner', 'partner-alice')).toBe(
      await subjectOf('alice'),
    );
  }, 120_000);
});
