/**
 * The login and consent pages: what they render and with which headers, the cookies that bind a pending
 * interaction and a login session to the browser, CSRF tokens, deny, remembered consent, single use of an
 * interaction and its expiry. Each test gets a fresh server, so consent and the test clock never leak
 * between tests.
 */
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { databaseOf } from '../src/storage/testing.ts';
import {
  authorizeThroughLogin,
  authorizeUrl,
  Browser,
  codeParams,
  formOf,
  issuer,
  password,
  pkcePair,
  redeemCode,
  rowCounts,
  unchangedRows,
  useServer,
  webRedirect,
} from './helpers.ts';

const server = useServer({}, { each: true });

const pkce = pkcePair();
type Values = Record<string, string | undefined>;

function webParams(extra: Values = {}): Values {
  return codeParams(pkce, { state: 'st-1', nonce: 'n-1', extra });
}

const alice = { username: 'alice', password };

function setCookies(response: LightMyRequestResponse): string[] {
  const header = response.headers['set-cookie'];
  return Array.isArray(header) ? header : header === undefined ? [] : [header];
}

/** The response sets exactly one cookie, named by `start`, with the __Host- prefix's attributes. */
function expectOneHostCookie(response: LightMyRequestResponse, start: RegExp): void {
  const cookies = setCookies(response);
  expect(cookies).toHaveLength(1);
  const cookie = cookies[0] ?? '';
  expect(cookie).toMatch(start);
  expect(cookie).toMatch(/; HttpOnly(;|$)/);
  expect(cookie).toMatch(/; Secure(;|$)/);
  expect(cookie).toMatch(/; SameSite=(Lax|Strict)(;|$)/);
  expect(cookie).toMatch(/; Path=\/(;|$)/);
  expect(cookie).not.toMatch(/Domain=/i);
}

const countedTables = { codes: 'authorization_codes', sessions: 'sessions', consents: 'consents' } as const;

function counts() {
  return rowCounts(server, countedTables);
}

/** Runs `send` and checks that it issued no code, started no session and saved no consent. */
function changesNothing(send: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  return unchangedRows(server, countedTables, send);
}

function expectSecurityHeaders(response: LightMyRequestResponse): void {
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  const csp = response.headers['content-security-policy'] as string;
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("default-src 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('script-src');
  expect(response.headers['x-frame-options']).toBe('DENY');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['cache-control']).toBe('no-store');
}

function expectNoScript(html: string): void {
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/\son[a-z]+=/i);
  expect(html).not.toMatch(/javascript:/i);
}

function expectErrorPage(response: LightMyRequestResponse, message?: RegExp): void {
  expect(response.statusCode).toBe(400);
  expect(response.headers.location).toBeUndefined();
  expect(setCookies(response)).toEqual([]);
  expectSecurityHeaders(response);
  expect(response.body).toContain('This request cannot be completed');
  expect(response.body).not.toContain('<form');
  if (message) expect(response.body).toMatch(message);
}

/** Starts an authorization in `browser`; returns the interaction URL. */
async function start(browser: Browser, values: Values = webParams()): Promise<string> {
  const response = await browser.get(authorizeUrl(values));
  expect(response.statusCode).toBe(303);
  const location = response.headers.location as string;
  expect(location).toMatch(new RegExp(`^${issuer}/interaction/[A-Za-z0-9_-]{43}$`));
  return location;
}

/** Starts an authorization and logs in; returns the consent page's form. */
async function toConsent(browser: Browser, values: Values = webParams(), user = alice) {
  const location = await start(browser, values);
  const login = formOf((await browser.get(location)).body);
  const loggedIn = await browser.post(login.action, { csrf: login.csrf, ...user });
  expect(loggedIn.statusCode).toBe(303);
  expect(loggedIn.headers.location).toBe(location);
  const page = await browser.get(location);
  expect(page.statusCode).toBe(200);
  return { location, page, form: formOf(page.body) };
}

function expectCode(response: LightMyRequestResponse, state: string | undefined = 'st-1'): string {
  expect(response.statusCode).toBe(303);
  const location = new URL(response.headers.location as string);
  expect(location.href.split('?')[0]).toBe(webRedirect);
  expect(location.searchParams.has('error')).toBe(false);
  if (state === undefined) expect(location.searchParams.has('state')).toBe(false);
  else expect(location.searchParams.getAll('state')).toEqual([state]);
  expect(location.searchParams.getAll('iss')).toEqual([issuer]);
  const code = location.searchParams.get('code');
  expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return code ?? '';
}

async function redeem(code: string) {
  return redeemCode(server, code, pkce.verifier);
}

describe('login page', () => {
  it('has username and password fields, a hidden CSRF token, strict headers and no script', async () => {
    const browser = new Browser(server);
    const location = await start(browser);
    const page = await browser.get(location);
    expect(page.statusCode).toBe(200);
    expectSecurityHeaders(page);
    expectNoScript(page.body);
    expect(page.body).toMatch(/<input type="text" id="username" name="username"[^>]*required/);
    expect(page.body).toMatch(/<input type="password" id="password" name="password"[^>]*required/);
    expect(page.body).toMatch(/<input type="hidden" name="csrf" value="[A-Za-z0-9_-]{43}">/);
    expect(page.body).toContain(`<form method="post" action="${location}/login">`);
    expect(page.body).toContain('Web Application');
    expect(page.body).not.toContain('name="decision"');
  });

  it('allows its one inline stylesheet by hash, so it renders without unsafe-inline', async () => {
    const browser = new Browser(server);
    const page = await browser.get(await start(browser));
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.body)?.[1];
    expect(style).toBeDefined();
    const hash = createHash('sha256')
      .update(style ?? '')
      .digest('base64');
    expect(page.headers['content-security-policy']).toContain(`style-src 'sha256-${hash}'`);
  });

  it('keeps the request server-side: the interaction URL carries only a random id', async () => {
    const browser = new Browser(server);
    const first = await start(browser, webParams({ state: 'secret-state' }));
    const second = await start(browser);
    expect(first).not.toContain('?');
    expect(first).not.toContain('secret-state');
    expect(first).not.toBe(second);
    const firstForm = formOf((await browser.get(first)).body);
    const secondForm = formOf((await browser.get(second)).body);
    expect(firstForm.csrf).not.toBe(secondForm.csrf);
    expect(first).not.toContain(firstForm.csrf);
    expect(browser.cookies.get('__Host-gh-browser')).not.toBe(firstForm.csrf);
  });

  it('sets one browser cookie: __Host- prefixed, HttpOnly, Secure, SameSite, Path=/ and no Domain', async () => {
    const browser = new Browser(server);
    const response = await browser.get(authorizeUrl(webParams()));
    expectOneHostCookie(response, /^__Host-gh-browser=[A-Za-z0-9_-]{43};/);
    // The same browser keeps its cookie for a second sign-in (tabs do not overwrite each other).
    expect(setCookies(await browser.get(authorizeUrl(webParams())))).toEqual([]);
  });

  it('refuses an unknown or malformed interaction id with an error page', async () => {
    const browser = new Browser(server);
    await start(browser);
    expectErrorPage(await browser.get(`/interaction/${pkcePair().verifier}`), /expired or was already used/);
    expectErrorPage(await browser.get('/interaction/not-an-id'));
    expectErrorPage(await browser.post(`/interaction/${pkcePair().verifier}/login`, { csrf: 'x', ...alice }));
  });
});

describe('login', () => {
  it('starts a server-side session with a __Host-, HttpOnly, Secure, SameSite cookie', async () => {
    const browser = new Browser(server);
    const location = await start(browser);
    const login = formOf((await browser.get(location)).body);
    const response = await browser.post(login.action, { csrf: login.csrf, ...alice });
    expect(response.statusCode).toBe(303);
    expectOneHostCookie(response, /^__Host-gh-session=[A-Za-z0-9_-]{43};/);
    // Only a hash of the cookie is stored; the row is found by it.
    const value = browser.cookies.get('__Host-gh-session') ?? '';
    const rows = await databaseOf(server.ctx.storage).selectFrom('sessions').select('id_hash').execute();
    expect(rows).toEqual([{ id_hash: createHash('sha256').update(value).digest('base64url') }]);
  });

  it('answers a wrong password with 401, a generic message and no session', async () => {
    const browser = new Browser(server);
    const location = await start(browser);
    const login = formOf((await browser.get(location)).body);
    const wrong = await changesNothing(() =>
      browser.post(login.action, { csrf: login.csrf, username: 'alice', password: 'wrong password' }),
    );
    expect(wrong.statusCode).toBe(401);
    expect(setCookies(wrong)).toEqual([]);
    expectSecurityHeaders(wrong);
    expectNoScript(wrong.body);
    expect(wrong.body).toContain(
      '<p class="error" role="alert" id="form-error">The username or password is incorrect.</p>',
    );
    expect(wrong.body).toMatch(/name="username"[^>]*value="alice"/);
    // The error is tied to the password, which gets the focus: the username was right to keep.
    expect(wrong.body).toMatch(
      /<input type="password"[^>]*aria-invalid="true" aria-describedby="form-error" autofocus>/,
    );
    expect(wrong.body).not.toMatch(/<input type="text" id="username"[^>]*(autofocus|aria-invalid)/);
    expect(wrong.body).not.toContain('wrong password');

    const unknown = await changesNothing(() =>
      browser.post(login.action, { csrf: login.csrf, username: 'mallory', password }),
    );
    expect(unknown.statusCode).toBe(401);
    expect(setCookies(unknown)).toEqual([]);
    expect(unknown.body.replace('value="mallory"', 'value="alice"')).toBe(wrong.body);

    // A failed attempt does not spend the interaction.
    const again = formOf(wrong.body);
    const ok = await browser.post(again.action, { csrf: again.csrf, ...alice });
    expect(ok.statusCode).toBe(303);
    expect(browser.cookies.has('__Host-gh-session')).toBe(true);
  });

  it('asks again when the username or password is missing', async () => {
    const browser = new Browser(server);
    const login = formOf((await browser.get(await start(browser))).body);
    const response = await changesNothing(() =>
      browser.post(login.action, { csrf: login.csrf, username: 'alice' }),
    );
    expect(response.statusCode).toBe(401);
    expect(response.body).toContain('Enter your username and password.');
  });

  it.each([
    ['missing', undefined],
    ['wrong', 'A'.repeat(43)],
    ['empty', ''],
  ])('refuses a %s CSRF token with an error page and no login', async (_name, csrf) => {
    const browser = new Browser(server);
    const location = await start(browser);
    const login = formOf((await browser.get(location)).body);
    const response = await changesNothing(() => browser.post(login.action, { csrf, ...alice }));
    expectErrorPage(response, /The form has expired/);
    // The genuine form still works afterwards.
    expect((await browser.post(login.action, { csrf: login.csrf, ...alice })).statusCode).toBe(303);
  });

  it("refuses the CSRF token of another of the browser's interactions", async () => {
    const browser = new Browser(server);
    const first = formOf((await browser.get(await start(browser))).body);
    const second = formOf((await browser.get(await start(browser))).body);
    const response = await changesNothing(() => browser.post(first.action, { csrf: second.csrf, ...alice }));
    expectErrorPage(response, /The form has expired/);
  });

  it('refuses a login posted from another browser, with or without its own browser cookie', async () => {
    const browser = new Browser(server);
    const location = await start(browser);
    const login = formOf((await browser.get(location)).body);

    const stranger = new Browser(server);
    expectErrorPage(
      await changesNothing(() => stranger.post(login.action, { csrf: login.csrf, ...alice })),
      /started in another browser/,
    );
    expectErrorPage(await stranger.get(location), /started in another browser/);

    await start(stranger);
    expect(stranger.cookies.get('__Host-gh-browser')).not.toBe(browser.cookies.get('__Host-gh-browser'));
    expectErrorPage(
      await changesNothing(() => stranger.post(login.action, { csrf: login.csrf, ...alice })),
      /started in another browser/,
    );
    expectErrorPage(await stranger.get(location), /started in another browser/);
  });

  it('logs straight through to a code when the client needs no consent', async () => {
    const browser = new Browser(server);
    const location = await start(
      browser,
      webParams({ client_id: 'post-app', redirect_uri: 'https://post.example.com/cb', scope: 'openid' }),
    );
    const login = formOf((await browser.get(location)).body);
    const response = await browser.post(login.action, { csrf: login.csrf, ...alice });
    expect(response.statusCode).toBe(303);
    const redirect = new URL(response.headers.location as string);
    expect(redirect.href.split('?')[0]).toBe('https://post.example.com/cb');
    expect(redirect.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(redirect.searchParams.get('state')).toBe('st-1');
    expect(redirect.searchParams.get('iss')).toBe(issuer);
  });
});

describe('consent', () => {
  it('lists the requested scopes in words, with strict headers and no script', async () => {
    const { page, form, location } = await toConsent(new Browser(server));
    expectSecurityHeaders(page);
    expectNoScript(page.body);
    for (const words of ['Sign you in', 'Your profile', 'Stay signed in', 'Read your orders'])
      expect(page.body).toContain(`<li>${words} `);
    expect(page.body).not.toContain('Your email address');
    expect(page.body).toContain('Web Application wants to access your account');
    expect(page.body).toContain('Signed in as alice');
    expect(page.body).toContain('<button type="submit" name="decision" value="allow">');
    expect(page.body).toContain('name="decision" value="deny"');
    expect(page.body).toMatch(/<input type="hidden" name="csrf" value="[A-Za-z0-9_-]{43}">/);
    expect(page.body).not.toContain('name="password"');
    expect(form.action).toBe(`${location}/consent`);
  });

  it('deny returns access_denied with state and iss, issues no code and remembers nothing', async () => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser);
    const response = await changesNothing(() =>
      browser.post(form.action, { csrf: form.csrf, decision: 'deny' }),
    );
    expect(response.statusCode).toBe(303);
    const location = new URL(response.headers.location as string);
    expect(location.href.split('?')[0]).toBe(webRedirect);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.get('iss')).toBe(issuer);
    expect(location.searchParams.has('code')).toBe(false);
    expect([...location.searchParams.keys()].sort()).toEqual(['error', 'error_description', 'iss', 'state']);

    // The denied interaction is finished: allowing it afterwards does nothing.
    expectErrorPage(
      await changesNothing(() => browser.post(form.action, { csrf: form.csrf, decision: 'allow' })),
      /expired or was already used/,
    );
    // Consent was not remembered: the next request asks again.
    const next = await start(browser);
    expect((await browser.get(next)).body).toContain('name="decision" value="allow"');
  });

  it('deny sends no state when none was sent', async () => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser, webParams({ state: undefined }));
    const response = await browser.post(form.action, { csrf: form.csrf, decision: 'deny' });
    const location = new URL(response.headers.location as string);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.has('state')).toBe(false);
    expect(location.searchParams.get('iss')).toBe(issuer);
  });

  it('allow issues a code with state and iss that is redeemable exactly once', async () => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser);
    const code = expectCode(await browser.post(form.action, { csrf: form.csrf, decision: 'allow' }));
    const first = await redeem(code);
    expect(first.status).toBe(200);
    expect(typeof first.body.access_token).toBe('string');
    const second = await redeem(code);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
  });

  it('remembers consent per client and scope set', async () => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser);
    expectCode(await browser.post(form.action, { csrf: form.csrf, decision: 'allow' }));

    // Same scopes, and a subset of them: straight to a code, no page.
    expectCode(await browser.get(authorizeUrl(webParams({ state: 'same' }))), 'same');
    expectCode(await browser.get(authorizeUrl(webParams({ state: 'sub', scope: 'openid' }))), 'sub');

    // A new scope asks again, listing it.
    const wider = webParams({ state: 'wider', scope: 'openid profile email' });
    const location = await start(browser, wider);
    const page = await browser.get(location);
    expect(page.body).toContain('<li>Your email address ');
    expect(page.body).not.toContain('name="password"');
    const consent = formOf(page.body);
    expectCode(await browser.post(consent.action, { csrf: consent.csrf, decision: 'allow' }), 'wider');
    // Both grants are now remembered.
    expectCode(await browser.get(authorizeUrl(wider)), 'wider');
    expectCode(await browser.get(authorizeUrl(webParams({ state: 'same' }))), 'same');

    // Another client asks even for scopes this client was given.
    const native = await start(
      browser,
      webParams({ client_id: 'native-app', redirect_uri: 'http://127.0.0.1:4000/callback', scope: 'openid' }),
    );
    const nativePage = await browser.get(native);
    expect(nativePage.body).toContain('Native App wants to access your account');
  });

  it('remembers consent per user', async () => {
    const first = new Browser(server);
    const { form } = await toConsent(first);
    expectCode(await first.post(form.action, { csrf: form.csrf, decision: 'allow' }));
    const second = new Browser(server);
    const { page } = await toConsent(second, webParams(), { username: 'bob', password });
    expect(page.body).toContain('Signed in as bob');
  });

  it.each([
    ['no decision', undefined],
    ['an unknown decision', 'maybe'],
  ])('refuses %s with an error page and no code', async (_name, decision) => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser);
    expectErrorPage(
      await changesNothing(() => browser.post(form.action, { csrf: form.csrf, decision })),
      /Choose Allow or Deny/,
    );
  });

  it.each([
    ['missing', undefined],
    ['wrong', 'A'.repeat(43)],
  ])('refuses a %s CSRF token on the consent form', async (_name, csrf) => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser);
    expectErrorPage(
      await changesNothing(() => browser.post(form.action, { csrf, decision: 'allow' })),
      /The form has expired/,
    );
  });

  it('refuses consent posted from another browser', async () => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser);
    const stranger = new Browser(server);
    await start(stranger);
    expectErrorPage(
      await changesNothing(() => stranger.post(form.action, { csrf: form.csrf, decision: 'allow' })),
      /started in another browser/,
    );
  });

  it('refuses consent before login, and consent without the session cookie', async () => {
    const browser = new Browser(server);
    const location = await start(browser);
    const login = formOf((await browser.get(location)).body);
    expectErrorPage(
      await changesNothing(() =>
        browser.post(`${location}/consent`, { csrf: login.csrf, decision: 'allow' }),
      ),
      /session has ended/,
    );

    const { form } = await toConsent(browser);
    browser.cookies.delete('__Host-gh-session');
    expectErrorPage(
      await changesNothing(() => browser.post(form.action, { csrf: form.csrf, decision: 'allow' })),
      /session has ended/,
    );
  });
});

describe('single use and expiry', () => {
  it('a consent form cannot be submitted twice', async () => {
    const browser = new Browser(server);
    const { form, location } = await toConsent(browser);
    expectCode(await browser.post(form.action, { csrf: form.csrf, decision: 'allow' }));
    expectErrorPage(
      await changesNothing(() => browser.post(form.action, { csrf: form.csrf, decision: 'allow' })),
      /expired or was already used/,
    );
    expectErrorPage(await browser.get(location), /expired or was already used/);
  });

  it('a login form that finished the interaction cannot be submitted twice', async () => {
    const browser = new Browser(server);
    const location = await start(
      browser,
      webParams({ client_id: 'post-app', redirect_uri: 'https://post.example.com/cb', scope: 'openid' }),
    );
    const login = formOf((await browser.get(location)).body);
    expect((await browser.post(login.action, { csrf: login.csrf, ...alice })).statusCode).toBe(303);
    expectErrorPage(
      await changesNothing(() => browser.post(login.action, { csrf: login.csrf, ...alice })),
      /expired or was already used/,
    );
  });

  it('two concurrent login submissions that finish the interaction issue one code', async () => {
    const browser = new Browser(server);
    const location = await start(
      browser,
      webParams({ client_id: 'post-app', redirect_uri: 'https://post.example.com/cb', scope: 'openid' }),
    );
    const login = formOf((await browser.get(location)).body);
    const before = await counts();
    // Both pass the pending check while their password hashes are verified; only one may complete.
    const responses = await Promise.all([
      browser.post(login.action, { csrf: login.csrf, ...alice }),
      browser.post(login.action, { csrf: login.csrf, ...alice }),
    ]);
    expect(responses.map((response) => response.statusCode).sort()).toEqual([303, 400]);
    const loser = responses.find((response) => response.statusCode === 400);
    if (loser) expectErrorPage(loser, /expired or was already used/);
    expect((await counts()).codes).toBe(before.codes + 1);
  });

  it('an interaction still works just before interactionTtl and is an error page after it', async () => {
    const ttl = server.config.login.interactionTtl;
    expect(ttl).toBe(900);
    const early = new Browser(server);
    const earlyLocation = await start(early);
    server.clock.advance(ttl - 1);
    const page = await early.get(earlyLocation);
    expect(page.statusCode).toBe(200);

    const late = new Browser(server);
    const lateLocation = await start(late);
    const login = formOf((await late.get(lateLocation)).body);
    server.clock.advance(ttl + 1);
    expectErrorPage(await late.get(lateLocation), /expired/);
    expectErrorPage(
      await changesNothing(() => late.post(login.action, { csrf: login.csrf, ...alice })),
      /expired/,
    );
    expect(late.cookies.has('__Host-gh-session')).toBe(false);
  });

  it('an interaction that expires on the consent page issues no code', async () => {
    const browser = new Browser(server);
    const { form } = await toConsent(browser);
    server.clock.advance(server.config.login.interactionTtl + 1);
    expectErrorPage(
      await changesNothing(() => browser.post(form.action, { csrf: form.csrf, decision: 'allow' })),
      /expired/,
    );
    // A new request with the still-live session asks for consent again and succeeds.
    const redirect = await authorizeThroughLogin(browser, authorizeUrl(webParams({ state: 'retry' })));
    expect(redirect.searchParams.get('state')).toBe('retry');
    expect((await redeem(redirect.searchParams.get('code') ?? '')).status).toBe(200);
  });
});
