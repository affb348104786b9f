/**
 * Linking an upstream identity to an existing account (sessions/upstream-link.ts) and the upstream's
 * amr/acr in the session, against the hand-made upstream of upstream-helpers.ts: a link only after the
 * account's password (and its TOTP code when it has one), an e-mail address only ever *offered* (verified,
 * at a provider trusted for it) and never linked without the password, wrong passwords counted by the
 * login limits, the pending link bound to its browser and used once, and an upstream's MFA counting only
 * when the provider is trusted for it (a local second factor otherwise, keeping `fed` in amr).
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/authn/totp.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../src/sessions/mfa.ts';
import {
  Browser,
  codeRequest,
  formOf,
  issuer,
  password,
  pkcePair,
  startServer,
  storedPasskey,
  type TestServer,
  testClients,
} from './helpers.ts';
import {
  callback,
  type HostileUpstream,
  startHostileUpstream,
  upstreamDriver,
  webAppIdToken,
} from './upstream-helpers.ts';

let hostile: HostileUpstream;
let server: TestServer;
const { sessionCount, validClaims, startAtHostile } = upstreamDriver(
  () => server,
  () => hostile,
);

const subjectOf = async (username: string) => (await server.ctx.accounts.findByUsername(username))!.subject;

beforeAll(async () => {
  hostile = await startHostileUpstream();
  const common = {
    type: 'oidc',
    issuer: hostile.issuer,
    clientId: 'gatehouse',
    clientSecret: 'gatehouse-at-upstream-secret-0123456789-abcdef',
    allowPrivateAddresses: true,
  };
  const user = (username: string, claims: Record<string, unknown> = {}) => ({ username, password, claims });
  server = await startServer({
    upstreams: [
      { ...common, id: 'partner', name: 'Partner' },
      { ...common, id: 'verified', name: 'Verified Mail', trustedForEmail: true },
      { ...common, id: 'rogue', name: 'Rogue', provisioning: 'jit' },
      { ...common, id: 'trusted', name: 'Trusted', provisioning: 'jit', trustedForMfa: true },
    ],
    clients: testClients({ 'web-app': { upstreams: ['partner', 'verified', 'rogue', 'trusted'] } }),
    rateLimits: { loginFreeFailures: 2 },
    webauthn: { enabled: true },
    users: [
      user('alice', { email: 'alice@example.com', email_verified: true }),
      user('bob'),
      user('dave'),
      user('erin', { email: 'erin@example.com', email_verified: true }),
      user('frank'),
    ],
  });
  // frank's only factor is a security key (the ceremony itself is run in passkeys-browser.test.ts).
  await server.ctx.storage.webauthn.addCredential(
    storedPasskey('frank-key', await subjectOf('frank'), {
      nickname: 'Security key',
      createdAt: server.clock(),
    }),
  );
  // bob has an authenticator app.
  const bob = (await server.ctx.accounts.findByUsername('bob'))!;
  const { secret } = await startTotpEnrolment(server.ctx, bob);
  bobSecret = secret;
  const confirmed = await confirmTotpEnrolment(server.ctx, bob, totpCode(secret, server.clock()), undefined);
  expect(confirmed.ok).toBe(true);
});

let bobSecret = '';

afterAll(async () => {
  await server?.close();
  await hostile?.close();
});

/** The browser's live session record. */
async function sessionOf(browser: Browser) {
  const value = browser.cookies.get('__Host-gh-session');
  if (value === undefined) return undefined;
  const hash = createHash('sha256').update(value).digest('base64url');
  return server.ctx.storage.sessions.findActive(hash, server.clock());
}

/**
 * Signs in at `upstreamId` as `sub` with the extra ID token `claims`; expects the link page and returns it
 * with its URL. No session may have started.
 */
async function reachLinkPage(
  browser: Browser,
  upstreamId: string,
  sub: string,
  claims: JWTPayload = {},
  extra: Record<string, string> = {},
) {
  const sessions = await sessionCount();
  const { state, nonce } = await startAtHostile(browser, upstreamId, extra);
  hostile.nextIdToken({ ...validClaims(nonce, sub), ...claims });
  const response = await callback(browser, upstreamId, { code: 'c', state, iss: hostile.issuer });
  expect(response.statusCode).toBe(303);
  const url = response.headers.location as string;
  expect(url).toMatch(new RegExp(`^${issuer}/interaction/[^/]+/link$`));
  expect(String(response.headers['set-cookie'] ?? '')).not.toContain('__Host-gh-session');
  const page = await browser.get(url);
  expect(page.statusCode).toBe(200);
  expect(page.headers['content-type']).toMatch(/^text\/html/);
  expect(await sessionCount()).toBe(sessions);
  return { url, page };
}

/** The value the link form's username field is filled in with. */
const usernameValue = (html: string) => /id="username"[^>]*value="([^"]*)"/.exec(html)?.[1];

describe('linking after proof of the local account', () => {
  it('links an existing-only identity after the password, and signs in with amr fed and pwd', async () => {
    const browser = new Browser(server);
    const { page } = await reachLinkPage(browser, 'partner', 'p-alice', { amr: ['pwd'], acr: 'urn:p:1' });
    expect(page.body).toContain('Link your account');
    expect(page.body).toContain('Your Partner sign-in is not linked');
    expect(page.body).toContain('No account here yet? Ask your administrator');
    expect(page.body).not.toContain('<script');
    expect(usernameValue(page.body)).toBe('');
    const form = formOf(page.body);
    expect(form.action).toMatch(/\/link$/);
    const response = await browser.post(form.action, { csrf: form.csrf, username: 'alice', password });
    expect(response.statusCode).toBe(303);
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-alice')).toBe(
      await subjectOf('alice'),
    );
    const session = await sessionOf(browser);
    expect(session?.userId).toBe(await subjectOf('alice'));
    expect(session?.amr).toEqual(['fed', 'pwd']);
    expect(session?.upstream).toEqual({ id: 'partner', amr: ['pwd'], acr: 'urn:p:1' });

    // The pending link was used: the page is gone.
    const again = await browser.get(`${form.action}`);
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('expired or was already used');

    // From now on the identity signs straight in, in any browser.
    const other = new Browser(server);
    const { state, nonce } = await startAtHostile(other, 'partner');
    hostile.nextIdToken(validClaims(nonce, 'p-alice'));
    const direct = await callback(other, 'partner', { code: 'c', state, iss: hostile.issuer });
    expect(direct.statusCode).toBe(303);
    expect(direct.headers.location).not.toMatch(/\/link$/);
    expect((await sessionOf(other))?.amr).toEqual(['fed']);
  });

  it('asks for the TOTP code of an account that has one before linking, and counts a wrong code', async () => {
    const browser = new Browser(server);
    const { page } = await reachLinkPage(browser, 'partner', 'p-bob');
    const form = formOf(page.body);
    const factorPage = await browser.post(form.action, { csrf: form.csrf, username: 'bob', password });
    expect(factorPage.statusCode).toBe(200);
    const factor = formOf(factorPage.body);
    expect(factor.action).toMatch(/\/link\/mfa$/);
    expect(factorPage.body).toContain('name="code"');
    // The password alone links nothing and starts no session.
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-bob')).toBeUndefined();
    expect(await sessionOf(browser)).toBeUndefined();
    // Reloading the link page shows the code prompt again, not the password form.
    expect(formOf((await browser.get(form.action)).body).action).toMatch(/\/link\/mfa$/);

    const wrong = await browser.post(factor.action, { csrf: factor.csrf, code: '000000' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('That code is not valid');
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-bob')).toBeUndefined();

    server.clock.advance(30); // the enrolment used the current step
    const right = await browser.post(factor.action, {
      csrf: factor.csrf,
      code: totpCode(bobSecret, server.clock()),
    });
    expect(right.statusCode).toBe(303);
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-bob')).toBe(
      await subjectOf('bob'),
    );
    expect((await sessionOf(browser))?.amr).toEqual(['fed', 'pwd', 'otp', 'mfa']);
  });

  it('asks an account whose factor is a passkey for it, and links nothing on a failed ceremony', async () => {
    const browser = new Browser(server);
    const { page } = await reachLinkPage(browser, 'partner', 'p-frank');
    const form = formOf(page.body);
    const factorPage = await browser.post(form.action, { csrf: form.csrf, username: 'frank', password });
    expect(factorPage.statusCode).toBe(200);
    // The ceremony's form posts to the link, with the page's one script allowed by its nonce.
    expect(factorPage.body).toMatch(/<form[^>]*action="[^"]*\/link\/passkey"/);
    expect(factorPage.headers['content-security-policy']).toMatch(/script-src 'nonce-/);
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-frank')).toBeUndefined();
    const passkeyAction = /<form[^>]*action="([^"]*\/link\/passkey)"/.exec(factorPage.body)![1]!;
    for (const posted of [{ webauthn_error: 'NotAllowedError' }, { credential: '{"id":"frank-key"}' }]) {
      const refused = await browser.post(passkeyAction, { csrf: form.csrf, ...posted });
      expect(refused.statusCode).toBeGreaterThanOrEqual(400);
      expect(refused.statusCode).toBeLessThan(500);
      expect(String(refused.headers['set-cookie'] ?? '')).not.toContain('__Host-gh-session');
    }
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-frank')).toBeUndefined();
    expect(await sessionOf(browser)).toBeUndefined();
  });

  it('refuses the code step before a password was proven', async () => {
    const browser = new Browser(server);
    const { page } = await reachLinkPage(browser, 'partner', 'p-nobody');
    const { action, csrf } = formOf(page.body);
    const response = await browser.post(`${action}/mfa`, { csrf, code: '123456' });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('expired or was already used');
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-nobody')).toBeUndefined();
  });

  it('keeps the pending link to the browser that signed in upstream, and to its CSRF token', async () => {
    const browser = new Browser(server);
    const { url, page } = await reachLinkPage(browser, 'partner', 'p-stolen');
    const { csrf } = formOf(page.body);
    const attacker = new Browser(server);
    await attacker.get(`${issuer}/`);
    const stolen = await attacker.post(url, { csrf, username: 'alice', password });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.body).toContain('started in another browser');
    const forged = await browser.post(url, { csrf: 'forged', username: 'alice', password });
    expect(forged.statusCode).toBe(400);
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-stolen')).toBeUndefined();
  });
});

describe('the link page', () => {
  it('speaks the language of ui_locales', async () => {
    const { page } = await reachLinkPage(new Browser(server), 'partner', 'p-de', {}, { ui_locales: 'de' });
    expect(page.body).toContain('Konto verknüpfen');
    expect(page.body).toContain('Ihre Anmeldung bei Partner');
  });

  it('refuses a link to an identity another sign-in linked meanwhile, and starts no session', async () => {
    const browser = new Browser(server);
    const { url, page } = await reachLinkPage(browser, 'partner', 'p-raced');
    expect(await server.ctx.storage.upstreams.link('partner', 'p-raced', await subjectOf('bob'), 0)).toBe(
      true,
    );
    const response = await browser.post(url, { csrf: formOf(page.body).csrf, username: 'alice', password });
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('already linked to another account');
    expect(await sessionOf(browser)).toBeUndefined();
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-raced')).toBe(
      await subjectOf('bob'),
    );
  });

  it('expires after ten minutes, before its interaction does', async () => {
    const browser = new Browser(server);
    const { url, page } = await reachLinkPage(browser, 'partner', 'p-late');
    server.clock.advance(601);
    const response = await browser.post(url, { csrf: formOf(page.body).csrf, username: 'alice', password });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('account linking has expired');
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-late')).toBeUndefined();
  });
});

describe('e-mail addresses: offered, never linked without proof', () => {
  const verifiedAlice = { email: 'alice@example.com', email_verified: true };

  it('offers the account of a verified address at a trusted provider, and links nothing without its password', async () => {
    const browser = new Browser(server);
    const { url, page } = await reachLinkPage(browser, 'verified', 'v-alice', verifiedAlice);
    expect(usernameValue(page.body)).toBe('alice');
    expect(page.body).toContain('has the e-mail address that Verified Mail confirmed');
    const { csrf } = formOf(page.body);
    for (const attempt of [{ username: 'alice' }, { username: 'alice', password: '' }]) {
      const response = await browser.post(url, { csrf, ...attempt });
      expect(response.statusCode).toBe(401);
      expect(response.body).toContain('Enter your username and password.');
      expect(String(response.headers['set-cookie'] ?? '')).not.toContain('__Host-gh-session');
    }
    expect(await server.ctx.storage.upstreams.findLinkedUser('verified', 'v-alice')).toBeUndefined();
    expect(await sessionOf(browser)).toBeUndefined();
    // With the password, the offered account is linked.
    const proven = await browser.post(url, { csrf, username: 'alice', password });
    expect(proven.statusCode).toBe(303);
    expect(await server.ctx.storage.upstreams.findLinkedUser('verified', 'v-alice')).toBe(
      await subjectOf('alice'),
    );
  });

  it('offers nothing for an unverified address, nor for a verified one at an untrusted provider', async () => {
    const unverified = await reachLinkPage(new Browser(server), 'verified', 'v-unverified', {
      email: 'erin@example.com',
      email_verified: false,
    });
    const untrusted = await reachLinkPage(new Browser(server), 'partner', 'p-verified', {
      email: 'erin@example.com',
      email_verified: true,
    });
    for (const { page } of [unverified, untrusted]) {
      expect(usernameValue(page.body)).toBe('');
      expect(page.body).not.toContain('erin');
      expect(page.body).not.toContain('confirmed');
    }
  });

  it('offers a link instead of provisioning when a JIT identity has the address of an existing account', async () => {
    const users = async () => (await server.ctx.storage.users.list()).length;
    const before = await users();
    const { page } = await reachLinkPage(new Browser(server), 'rogue', 'r-erin', {
      email: 'ERIN@example.com',
      email_verified: true,
    });
    // Not trusted for e-mail: a link is offered, but no account is named; the provider creates accounts,
    // so there is no "ask your administrator".
    expect(usernameValue(page.body)).toBe('');
    expect(page.body).not.toContain('No account here yet?');
    expect(await users()).toBe(before);
    expect(await server.ctx.storage.upstreams.findLinkedUser('rogue', 'r-erin')).toBeUndefined();
  });
});

describe('the login limits', () => {
  it('counts wrong passwords on the link page with the login form, and locks both', async () => {
    const browser = new Browser(server);
    const { url, page } = await reachLinkPage(browser, 'partner', 'p-dave');
    const { csrf } = formOf(page.body);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++)
      statuses.push((await browser.post(url, { csrf, username: 'dave', password: 'wrong' })).statusCode);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses[3]).toBe(429);
    const locked = await browser.post(url, { csrf, username: 'dave', password });
    expect(locked.statusCode).toBe(429);
    expect(locked.body).toContain('Too many failed sign-in attempts');
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'p-dave')).toBeUndefined();
    // The password form of a sign-in from the same address is held by the same counters.
    const login = new Browser(server);
    const authorize = await login.get(
      `${issuer}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: 'post-app',
        redirect_uri: 'https://post.example.com/cb',
        scope: 'openid',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      })}`,
    );
    const loginPage = await login.get(authorize.headers.location as string);
    const loginForm = formOf(loginPage.body);
    const held = await login.post(loginForm.action, { csrf: loginForm.csrf, username: 'dave', password });
    expect(held.statusCode).toBe(429);
  });
});

describe("the upstream's amr and acr", () => {
  const mfaRequest = () => ({ acr_values: server.config.mfa.acrValues.mfa });

  it('keeps them with the session of an untrusted provider, asks for a local factor, and keeps fed after it', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser, 'rogue', mfaRequest());
    hostile.nextIdToken({ ...validClaims(nonce, 'r-mfa'), amr: ['pwd', 'mfa'], acr: 'urn:rogue:mfa' });
    const response = await callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer });
    expect(response.statusCode).toBe(303);
    const session = await sessionOf(browser);
    expect(session?.amr).toEqual(['fed']);
    expect(session?.upstream).toEqual({ id: 'rogue', amr: ['pwd', 'mfa'], acr: 'urn:rogue:mfa' });
    // The provisioned account has no factor yet: enrolment, whose first code steps the session up.
    const enrol = await browser.get(response.headers.location as string);
    const secret = /<code id="totp-secret">([^<]+)<\/code>/.exec(enrol.body)?.[1]?.replace(/\s/g, '');
    expect(secret).toBeDefined();
    const form = formOf(enrol.body);
    const confirmed = await browser.post(form.action, {
      csrf: form.csrf,
      code: totpCode(secret!, server.clock()),
    });
    expect(confirmed.statusCode).toBe(200);
    const stepped = await sessionOf(browser);
    expect(stepped?.amr).toEqual(['fed', 'otp', 'mfa']);
    expect(stepped?.upstream?.acr).toBe('urn:rogue:mfa');
  });

  it('lets a provider trusted for MFA meet the policy with its amr, which the ID token carries', async () => {
    const browser = new Browser(server);
    const pkce = pkcePair();
    // The idp hint skips the chooser: straight to the upstream.
    const authorize = await browser.get(
      codeRequest(pkce, { clientId: 'web-app', extra: { ...mfaRequest(), idp: 'trusted' } }),
    );
    const toUpstream = await browser.get(authorize.headers.location as string);
    const upstreamUrl = new URL(toUpstream.headers.location as string);
    expect(upstreamUrl.origin).toBe(hostile.issuer);
    const nonce = upstreamUrl.searchParams.get('nonce')!;
    hostile.nextIdToken({ ...validClaims(nonce, 't-mfa'), amr: ['pwd', 'otp', 'mfa'], acr: 'urn:t:2' });
    const response = await callback(browser, 'trusted', {
      code: 'c',
      state: upstreamUrl.searchParams.get('state')!,
      iss: hostile.issuer,
    });
    expect(response.statusCode).toBe(303);
    expect((await sessionOf(browser))?.upstream).toEqual({
      id: 'trusted',
      amr: ['pwd', 'otp', 'mfa'],
      acr: 'urn:t:2',
    });
    // Consent next (web-app asks for it), not a second factor; then the code and the ID token.
    const location = response.headers.location as string;
    expect((await browser.get(location)).body).toContain('name="decision"');
    const idToken = await webAppIdToken(server, browser, location, pkce.verifier);
    expect(idToken.amr).toEqual(['fed', 'pwd', 'otp', 'mfa']);
    expect(idToken.acr).toBe(server.config.mfa.acrValues.mfa);
  });
});
