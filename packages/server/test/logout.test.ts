/**
 * Logout: RP-Initiated Logout 1.0 at /end_session (hint checks, confirmation page and its CSRF token,
 * post-logout redirects), what ending a session revokes, and Back-Channel Logout 1.0 deliveries received by
 * real HTTP servers on 127.0.0.1 (token contents verified with jose against /jwks, retries, timeouts, a
 * receiver that never answers). The last part drives logout with openid-client on a real port.
 */
import { Writable } from 'node:stream';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import { signJwt } from '../src/tokens/jwt.ts';
import {
  authorizeThroughLogin,
  Browser,
  codeRequest,
  formOf,
  issuer,
  ordersApiAuth,
  password,
  pkcePair,
  startServer,
  type TestServer,
  testClients,
  tokenRequest,
  webAppAuth,
  webRedirect,
  webSecret,
} from './helpers.ts';
import {
  authorizationParameters,
  discoverWebApp,
  FetchBrowser,
  type Received,
  Receiver,
  startListening,
} from './interop-helpers.ts';

const signedOut = 'https://webapp.example.com/signed-out';
const backchannelEvent = 'http://schemas.openid.net/event/backchannel-logout';

const webAppLogout = { 'web-app': { postLogoutRedirectUris: [signedOut, 'https://webapp.example.com/bye'] } };
const bothAppsLogout = {
  ...webAppLogout,
  'post-app': { postLogoutRedirectUris: ['https://post.example.com/bye'] },
};

/** Captures the server's JSON log lines; resolves waiters when an audit event appears. */
class LogSink extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  private waiters: { test: (line: Record<string, unknown>) => boolean; resolve: () => void }[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const text of chunk.toString('utf8').split('\n')) {
      if (text.trim() === '') continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      this.lines.push(line);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.test(line)) return true;
        waiter.resolve();
        return false;
      });
    }
    done();
  }

  audits(event: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.audit === event);
  }

  /** Resolves once `count` audit events of this name have been logged. */
  waitForAudit(event: string, count = 1): Promise<void> {
    if (this.audits(event).length >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ test: () => this.audits(event).length >= count, resolve });
    });
  }
}

const ok = (_index: number, received: Received) => received.response.writeHead(200).end();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(
  overrides: Record<string, unknown> = {},
  logStream?: NodeJS.WritableStream,
): Promise<TestServer> {
  const started = await startServer(
    { clients: testClients(webAppLogout), ...overrides },
    logStream ? { logStream } : {},
  );
  cleanups.push(() => started.close());
  return started;
}

async function receiver(respond: (index: number, received: Received) => void = ok): Promise<Receiver> {
  const started = await new Receiver(respond).start();
  cleanups.push(() => started.close());
  return started;
}

/**
 * A server whose web-app has a back-channel logout URI (and, with `postLogout`, its post-logout redirect
 * URIs), logging audit events into a LogSink, and a browser signed in to web-app there.
 */
async function signedInWithBackchannel(
  backchannelLogoutUri: string,
  options: { logout?: Record<string, unknown>; postLogout?: boolean } = {},
) {
  const sink = new LogSink();
  const webApp = { ...(options.postLogout ? webAppLogout['web-app'] : {}), backchannelLogoutUri };
  const target = await server(
    {
      logging: { level: 'info' },
      ...(options.logout ? { logout: options.logout } : {}),
      clients: testClients({ 'web-app': webApp }),
    },
    sink,
  );
  const browser = new Browser(target);
  const tokens = await signIn(target, browser);
  return { sink, target, browser, tokens };
}

interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token?: string;
}

const clientSetups = {
  'web-app': { redirectUri: webRedirect, auth: { authorization: webAppAuth } },
  'post-app': {
    redirectUri: 'https://post.example.com/cb',
    auth: { body: { client_id: 'post-app', client_secret: webSecret } },
  },
} as const;

/** Signs in (or reuses the browser's session) and runs the code flow for `clientId` with `scope`. */
async function signIn(
  target: TestServer,
  browser: Browser,
  scope = 'openid profile orders.read',
  clientId: keyof typeof clientSetups = 'web-app',
  user = 'alice',
): Promise<Tokens> {
  const setup = clientSetups[clientId];
  const pkce = pkcePair();
  const redirect = await authorizeThroughLogin(
    browser,
    codeRequest(pkce, { clientId, redirectUri: setup.redirectUri, scope }),
    { username: user, password },
  );
  const code = redirect.searchParams.get('code');
  expect(code, `no code in ${redirect}`).toBeTruthy();
  const response = await tokenRequest(
    target,
    {
      grant_type: 'authorization_code',
      code: code ?? '',
      redirect_uri: setup.redirectUri,
      code_verifier: pkce.verifier,
      ...('body' in setup.auth ? setup.auth.body : {}),
    },
    'authorization' in setup.auth ? setup.auth.authorization : undefined,
  );
  expect(response.status).toBe(200);
  return response.body as unknown as Tokens;
}

/** A fresh server and a browser signed in there with signIn(). */
async function signedIn(scope?: string, clientId?: keyof typeof clientSetups, user?: string) {
  const target = await server();
  const browser = new Browser(target);
  const tokens = await signIn(target, browser, scope, clientId, user);
  return { target, browser, tokens };
}

/** Signs in again as alice in `browser`, with prompt=login. */
function signInAgain(browser: Browser): Promise<URL> {
  return authorizeThroughLogin(browser, codeRequest(pkcePair(), { extra: { prompt: 'login' } }));
}

function endSessionUrl(values: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined) params.append(name, value);
  const query = params.toString();
  return `/end_session${query ? `?${query}` : ''}`;
}

/** True when the browser's session still satisfies prompt=none at /authorize. */
async function stillSignedIn(browser: Browser): Promise<boolean> {
  const response = await browser.get(
    codeRequest(pkcePair(), { scope: 'openid profile orders.read', extra: { prompt: 'none' } }),
  );
  expect(response.statusCode).toBe(303);
  const location = new URL(response.headers.location as string);
  if (location.searchParams.get('error') === 'login_required') return false;
  expect(location.searchParams.get('code')).toBeTruthy();
  return true;
}

function clearsSessionCookie(response: { headers: Record<string, unknown> }): boolean {
  const header = response.headers['set-cookie'];
  const lines = Array.isArray(header) ? header : header ? [String(header)] : [];
  return lines.some((line) => /^__Host-gh-session=;/.test(line) && /Max-Age=0/.test(line));
}

async function introspect(target: TestServer, token: string): Promise<Record<string, unknown>> {
  const response = await target.app.inject({
    method: 'POST',
    url: '/introspect',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: ordersApiAuth,
    },
    payload: new URLSearchParams({ token }).toString(),
  });
  expect(response.statusCode).toBe(200);
  return JSON.parse(response.body) as Record<string, unknown>;
}

async function userinfoStatus(target: TestServer, token: string): Promise<number> {
  const response = await target.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${token}` },
  });
  return response.statusCode;
}

async function jwks(target: TestServer) {
  return createLocalJWKSet(JSON.parse((await target.app.inject({ url: '/jwks' })).body));
}

function isConfirmationPage(response: { statusCode: number; body: string }): boolean {
  return response.statusCode === 200 && response.body.includes('Sign out of Gatehouse?');
}

describe('discovery', () => {
  it('advertises the end session endpoint and back-channel logout with sid, not front-channel', async () => {
    const target = await server();
    const metadata = JSON.parse(
      (await target.app.inject({ url: '/.well-known/openid-configuration' })).body,
    ) as Record<string, unknown>;
    expect(metadata.end_session_endpoint).toBe(`${issuer}/end_session`);
    expect(metadata.backchannel_logout_supported).toBe(true);
    expect(metadata.backchannel_logout_session_supported).toBe(true);
    expect(metadata.frontchannel_logout_supported).toBe(false);
  });
});

describe('RP-initiated logout', () => {
  it('a valid hint for the current session logs out at once and redirects with state', async () => {
    const { browser, tokens } = await signedIn();
    expect(await stillSignedIn(browser)).toBe(true);

    const response = await browser.get(
      endSessionUrl({
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: signedOut,
        state: 'bye state/&=',
      }),
    );
    expect(response.statusCode).toBe(303);
    const location = new URL(response.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(signedOut);
    expect(location.searchParams.get('state')).toBe('bye state/&=');
    expect([...location.searchParams.keys()]).toEqual(['state']);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(clearsSessionCookie(response)).toBe(true);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('the session is ended on the server, not only the cookie cleared', async () => {
    const { browser, tokens } = await signedIn();
    const cookie = browser.cookies.get('__Host-gh-session');
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    // Replaying the old cookie does not bring the session back.
    browser.cookies.set('__Host-gh-session', cookie ?? '');
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('a redirect URI of the client that is not registered gives the signed-out page, never a redirect', async () => {
    const target = await server();
    for (const unregistered of [
      'https://evil.example.com/signed-out',
      `${signedOut}/extra`,
      `${signedOut}?x=1`,
      'https://WEBAPP.example.com/signed-out',
      webRedirect,
    ]) {
      const browser = new Browser(target);
      const tokens = await signIn(target, browser);
      const response = await browser.get(
        endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: unregistered, state: 's' }),
      );
      expect(response.statusCode, unregistered).toBe(200);
      expect(response.headers.location).toBeUndefined();
      expect(response.body).toContain('You are signed out');
      expect(response.body).not.toContain('evil.example.com');
      expect(response.headers['content-security-policy']).toContain("default-src 'none'");
      expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response.body).not.toContain('<script');
      expect(await stillSignedIn(browser)).toBe(false);
    }
  });

  it("another client's registered URI is not accepted for this client", async () => {
    const target = await server({ clients: testClients(bothAppsLogout) });
    const browser = new Browser(target);
    const tokens = await signIn(target, browser);
    const response = await browser.get(
      endSessionUrl({
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: 'https://post.example.com/bye',
      }),
    );
    expect(response.statusCode).toBe(200);
    expect(response.headers.location).toBeUndefined();
  });

  it('a stored post-logout URI that breaks the redirect rules is not used', async () => {
    const target = await server();
    // Configuration and the CLI refuse such URIs; a record written by other means must not be trusted.
    const stored = await target.ctx.storage.clients.find('web-app');
    const bad = ['javascript:alert(1)', 'http://webapp.example.com/plain', 'not a uri'];
    await target.ctx.storage.clients.save({ ...stored!, postLogoutRedirectUris: [...bad, signedOut] });
    for (const uri of bad) {
      const browser = new Browser(target);
      const tokens = await signIn(target, browser);
      const response = await browser.get(
        endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: uri }),
      );
      expect(response.statusCode, uri).toBe(200);
      expect(response.headers.location, uri).toBeUndefined();
      expect(response.body).toContain('You are signed out');
    }
    const browser = new Browser(target);
    const tokens = await signIn(target, browser);
    const response = await browser.get(
      endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: signedOut }),
    );
    expect(response.headers.location).toBe(signedOut);
  });

  it('POST with the parameters in a form body works like GET', async () => {
    const { browser, tokens } = await signedIn();
    const response = await browser.post('/end_session', {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: signedOut,
      state: 'posted',
    });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(`${signedOut}?state=posted`);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('a cross-site POST (no SameSite=Lax cookie sent) is repeated as a GET, which then sees the session', async () => {
    const { target, browser, tokens } = await signedIn();
    const posted = await target.app.inject({
      method: 'POST',
      url: '/end_session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: signedOut,
        state: 'st',
      }).toString(),
    });
    expect(posted.statusCode).toBe(303);
    const again = new URL(posted.headers.location as string);
    expect(`${again.origin}${again.pathname}`).toBe(`${issuer}/end_session`);
    expect(again.searchParams.get('id_token_hint')).toBe(tokens.id_token);
    // The session was not touched by the cookie-less POST ...
    expect(await stillSignedIn(browser)).toBe(true);
    // ... and the browser following the redirect is logged out.
    const response = await browser.get(posted.headers.location as string);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(`${signedOut}?state=st`);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('without a session there is nothing to end: a registered redirect happens at once (idempotent)', async () => {
    const { target, browser, tokens } = await signedIn();
    const first = await browser.get(
      endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: signedOut, state: 'a' }),
    );
    expect(first.headers.location).toBe(`${signedOut}?state=a`);
    const second = await browser.get(
      endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: signedOut, state: 'b' }),
    );
    expect(second.statusCode).toBe(303);
    expect(second.headers.location).toBe(`${signedOut}?state=b`);
    const fresh = await new Browser(target).get(
      endSessionUrl({ client_id: 'web-app', post_logout_redirect_uri: signedOut }),
    );
    expect(fresh.headers.location).toBe(signedOut);
    const nothing = await new Browser(target).get('/end_session');
    expect(nothing.statusCode).toBe(200);
    expect(nothing.body).toContain('You are signed out');
  });

  it('an expired hint is still accepted (RP-Initiated Logout §2)', async () => {
    const target = await server({ tokens: { idTokenTtl: 60 } });
    const browser = new Browser(target);
    const tokens = await signIn(target, browser);
    target.clock.advance(3600);
    expect(decodeJwt(tokens.id_token).exp).toBeLessThan(target.clock());
    const response = await browser.get(
      endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: signedOut, state: 'late' }),
    );
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(`${signedOut}?state=late`);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('a hint from an earlier session of the same browser asks for confirmation', async () => {
    const { browser, tokens: old } = await signedIn('openid', 'web-app', 'bob');
    // Another user signing in on this browser ends bob's session and starts a new one with a new sid.
    await signInAgain(browser);
    const response = await browser.get(endSessionUrl({ id_token_hint: old.id_token }));
    expect(isConfirmationPage(response)).toBe(true);
    expect(await stillSignedIn(browser)).toBe(true);
  });

  it('re-authenticating the same user keeps the session: an earlier hint still names it', async () => {
    const { browser, tokens: old } = await signedIn();
    await signInAgain(browser);
    const response = await browser.get(endSessionUrl({ id_token_hint: old.id_token }));
    expect(isConfirmationPage(response)).toBe(false);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('another user signing in on the same browser logs the previous user out: grants revoked, clients notified', async () => {
    const { target, browser, tokens: bobs } = await signedIn('openid orders.read', 'web-app', 'bob');
    expect((await introspect(target, bobs.access_token)).active).toBe(true);
    await signInAgain(browser);
    expect((await introspect(target, bobs.access_token)).active).toBe(false);
  });

  it("another user's hint asks for confirmation", async () => {
    const target = await server();
    const bobs = await signIn(target, new Browser(target), 'openid', 'web-app', 'bob');
    const browser = new Browser(target);
    await signIn(target, browser);
    const response = await browser.get(endSessionUrl({ id_token_hint: bobs.id_token }));
    expect(isConfirmationPage(response)).toBe(true);
    expect(response.body).toContain('signed in as alice');
    expect(await stillSignedIn(browser)).toBe(true);
  });

  it('hints that cannot be verified count as absent: confirmation, never an error (unless too long)', async () => {
    const { target, browser, tokens } = await signedIn();
    // Another Gatehouse with the same issuer name but its own keys.
    const other = await server();
    const foreign = await signIn(other, new Browser(other));
    const key = target.ctx.keys.signingKey(target.clock());
    const claims = decodeJwt(tokens.id_token);
    const [header, payload, signature] = tokens.id_token.split('.') as [string, string, string];
    const tampered = { ...claims, sub: 'someone-else' };
    const hints = {
      garbage: 'not-a-jwt',
      dots: 'a.b.c',
      otherServersKey: foreign.id_token,
      wrongIssuerOurKey: await signJwt(key, 'JWT', { ...claims, iss: 'https://evil.example.com' }),
      accessToken: tokens.access_token,
      badSignature: `${header}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${signature}`,
      truncatedSignature: `${header}.${payload}.${signature.slice(0, 20)}`,
      noneAlg: `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`,
      logoutTyp: await signJwt(key, 'logout+jwt', claims),
      atTyp: await signJwt(key, 'at+jwt', claims),
      noSub: await signJwt(key, 'JWT', { ...claims, sub: undefined }),
      twoAudiencesNoAzp: await signJwt(key, 'JWT', {
        ...claims,
        aud: ['web-app', 'post-app'],
        azp: undefined,
      }),
      long: 'a'.repeat(4000),
      huge: 'a'.repeat(10_000),
      unknownAudience: await signJwt(key, 'JWT', { ...claims, aud: 'no-such-client' }),
    };
    for (const [name, hint] of Object.entries(hints)) {
      const response = await browser.get(
        endSessionUrl({ id_token_hint: hint, post_logout_redirect_uri: signedOut, state: 's' }),
      );
      if (name === 'huge') {
        // Longer than requestParameters allows (4096 for id_token_hint): refused, and nothing is ended.
        expect(response.statusCode, name).toBe(400);
        expect(response.body).toContain('parameter id_token_hint is longer than 4096 characters');
        expect(response.headers.location, name).toBeUndefined();
        expect(await stillSignedIn(browser), name).toBe(true);
        continue;
      }
      if (name === 'unknownAudience') {
        // Verified and naming this session, but no client we know: logged out, with nowhere to redirect.
        expect(response.statusCode, name).toBe(200);
        expect(response.body).toContain('You are signed out');
        expect(response.headers.location, name).toBeUndefined();
        expect(await stillSignedIn(browser), name).toBe(false);
        continue;
      }
      expect(isConfirmationPage(response), name).toBe(true);
      expect(response.body, name).not.toContain(signedOut);
      expect(await stillSignedIn(browser), name).toBe(true);
    }
  });

  it('client_id that differs from the hint: confirmation without any redirect target', async () => {
    const target = await server({ clients: testClients(bothAppsLogout) });
    const browser = new Browser(target);
    const tokens = await signIn(target, browser);
    for (const redirect of [signedOut, 'https://post.example.com/bye']) {
      const response = await browser.get(
        endSessionUrl({
          id_token_hint: tokens.id_token,
          client_id: 'post-app',
          post_logout_redirect_uri: redirect,
          state: 's',
        }),
      );
      expect(isConfirmationPage(response)).toBe(true);
      expect(response.body).not.toContain('post.example.com');
      expect(response.body).not.toContain('signed-out');
      expect(await stillSignedIn(browser)).toBe(true);
    }
    const page = await browser.get(
      endSessionUrl({
        id_token_hint: tokens.id_token,
        client_id: 'post-app',
        post_logout_redirect_uri: signedOut,
      }),
    );
    const { action, csrf } = formOf(page.body);
    const confirmed = await browser.post(action, { csrf });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.headers.location).toBeUndefined();
    expect(confirmed.body).toContain('You are signed out');
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('a matching client_id with the hint is fine', async () => {
    const { browser, tokens } = await signedIn();
    const response = await browser.get(
      endSessionUrl({
        id_token_hint: tokens.id_token,
        client_id: 'web-app',
        post_logout_redirect_uri: signedOut,
      }),
    );
    expect(response.headers.location).toBe(signedOut);
  });

  it('HEAD (a link checker or prefetcher) never signs anyone out: the server has no implicit HEAD routes', async () => {
    const { target, browser, tokens } = await signedIn();
    const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await target.app.inject({
      method: 'HEAD',
      url: endSessionUrl({ id_token_hint: tokens.id_token }),
      headers: { cookie },
    });
    // 405 with the methods that are served (RFC 9110 §15.5.6); HEAD is not one of them.
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('GET, POST');
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(await stillSignedIn(browser)).toBe(true);
  });

  it('duplicated parameters are refused with an error page', async () => {
    const { browser } = await signedIn();
    const response = await browser.get('/end_session?state=a&state=b');
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('text/html');
    expect(await stillSignedIn(browser)).toBe(true);
  });
});

describe('confirmation page', () => {
  it('without a hint asks first; confirming logs out and redirects to the client with state', async () => {
    const { browser } = await signedIn();
    const page = await browser.get(
      endSessionUrl({ client_id: 'web-app', post_logout_redirect_uri: signedOut, state: 'x<y>"z' }),
    );
    expect(isConfirmationPage(page)).toBe(true);
    expect(page.body).toContain('Web Application');
    expect(page.body).toContain('x&lt;y&gt;&quot;z');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).not.toContain('<script');
    expect(await stillSignedIn(browser)).toBe(true);

    const { action, csrf } = formOf(page.body);
    expect(action).toBe(`${issuer}/end_session/confirm`);
    const fields = Object.fromEntries(
      [...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((match) => [
        match[1],
        match[2]!
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&quot;/g, '"')
          .replace(/&amp;/g, '&'),
      ]),
    );
    const response = await browser.post(action, fields);
    expect(fields.csrf).toBe(csrf);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(`${signedOut}?state=${encodeURIComponent('x<y>"z')}`);
    expect(clearsSessionCookie(response)).toBe(true);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('without a client the confirmation ends on the signed-out page', async () => {
    const { browser } = await signedIn();
    const page = await browser.get(
      endSessionUrl({ post_logout_redirect_uri: signedOut, logout_hint: 'alice' }),
    );
    expect(isConfirmationPage(page)).toBe(true);
    expect(page.body).not.toContain(signedOut);
    const { action, csrf } = formOf(page.body);
    const response = await browser.post(action, { csrf });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('You are signed out');
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('a missing or wrong CSRF token is refused and the session stays', async () => {
    const { browser } = await signedIn();
    const page = await browser.get(endSessionUrl({}));
    const { action, csrf } = formOf(page.body);
    for (const values of [
      {},
      { csrf: `${csrf.slice(0, -1)}A` === csrf ? `${csrf.slice(0, -1)}B` : `${csrf.slice(0, -1)}A` },
      { csrf: '' },
    ]) {
      const response = await browser.post(action, values);
      expect(response.statusCode).toBe(403);
      expect(response.headers['content-type']).toContain('text/html');
      expect(response.body).toContain('expired');
      expect(clearsSessionCookie(response)).toBe(false);
      expect(await stillSignedIn(browser)).toBe(true);
    }
  });

  it("another browser's CSRF token does not work, and a token dies with its session", async () => {
    const target = await server();
    const alice = new Browser(target);
    const mallory = new Browser(target);
    await signIn(target, alice);
    await signIn(target, mallory, 'openid', 'web-app', 'bob');
    const mallorys = formOf((await mallory.get('/end_session')).body);
    const forged = await alice.post(mallorys.action, { csrf: mallorys.csrf });
    expect(forged.statusCode).toBe(403);
    expect(await stillSignedIn(alice)).toBe(true);

    const old = formOf((await alice.get('/end_session')).body);
    await signInAgain(alice);
    expect((await alice.post(old.action, { csrf: old.csrf })).statusCode).toBe(403);
    expect(await stillSignedIn(alice)).toBe(true);
  });

  it('the confirmation re-checks the redirect URI it is given', async () => {
    const { browser } = await signedIn();
    const { action, csrf } = formOf((await browser.get('/end_session')).body);
    const response = await browser.post(action, {
      csrf,
      client_id: 'web-app',
      post_logout_redirect_uri: 'https://evil.example.com/',
      state: 's',
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.location).toBeUndefined();
    expect(await stillSignedIn(browser)).toBe(false);
  });
});

describe('introspection and revocation after logout', () => {
  it('tokens of grants without offline_access are refused; an offline_access grant keeps working', async () => {
    const { target, browser, tokens: online } = await signedIn('openid profile orders.read');
    const offline = await signIn(target, browser, 'openid profile offline_access orders.read');
    const other = await signIn(target, new Browser(target), 'openid profile orders.read');
    expect(online.refresh_token).toBeUndefined();
    expect(offline.refresh_token).toBeTruthy();
    expect((await introspect(target, online.access_token)).active).toBe(true);
    expect(await userinfoStatus(target, online.access_token)).toBe(200);

    const response = await browser.get(endSessionUrl({ id_token_hint: online.id_token }));
    expect(response.statusCode).toBe(200);

    expect(await introspect(target, online.access_token)).toEqual({ active: false });
    expect(await userinfoStatus(target, online.access_token)).toBe(401);

    expect((await introspect(target, offline.access_token)).active).toBe(true);
    expect(await userinfoStatus(target, offline.access_token)).toBe(200);
    const refreshed = await tokenRequest(
      target,
      { grant_type: 'refresh_token', refresh_token: offline.refresh_token ?? '' },
      webAppAuth,
    );
    expect(refreshed.status).toBe(200);
    expect((await introspect(target, refreshed.body.access_token as string)).active).toBe(true);

    // Another session of the same user is not affected.
    expect((await introspect(target, other.access_token)).active).toBe(true);
    expect(await userinfoStatus(target, other.access_token)).toBe(200);
  });

  it('a code issued in the session but not yet redeemed dies with it', async () => {
    const { target, browser, tokens } = await signedIn();
    const pkce = pkcePair();
    const redirect = await authorizeThroughLogin(
      browser,
      codeRequest(pkce, { scope: 'openid profile orders.read' }),
    );
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    const exchanged = await tokenRequest(
      target,
      {
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code') ?? '',
        redirect_uri: webRedirect,
        code_verifier: pkce.verifier,
      },
      webAppAuth,
    );
    expect(exchanged.status).toBe(400);
    expect(exchanged.body.error).toBe('invalid_grant');
  });

  it('logout is audited with ids only', async () => {
    const sink = new LogSink();
    const target = await server({ logging: { level: 'info' } }, sink);
    const browser = new Browser(target);
    const tokens = await signIn(target, browser);
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    const [event] = sink.audits('logout');
    expect(event).toMatchObject({
      user_id: decodeJwt(tokens.id_token).sub,
      sid: decodeJwt(tokens.id_token).sid,
      client_id: 'web-app',
      revoked_grants: 1,
      backchannel_clients: 0,
    });
    expect(JSON.stringify(sink.lines)).not.toContain(tokens.id_token);
  });
});

describe('back-channel logout received by a test HTTP server', () => {
  it('POSTs a valid logout token to each client that took part in the session', async () => {
    const target0 = await receiver();
    const sink = new LogSink();
    const target = await server(
      {
        logging: { level: 'info' },
        clients: testClients({
          'web-app': {
            ...webAppLogout['web-app'],
            backchannelLogoutUri: `${target0.url}/bc/web-app?tenant=1`,
          },
          'post-app': { backchannelLogoutUri: `${target0.url}/bc/post-app` },
          'native-app': { backchannelLogoutUri: `${target0.url}/bc/native-app` },
        }),
      },
      sink,
    );
    const browser = new Browser(target);
    const tokens = await signIn(target, browser);
    await signIn(target, browser, 'openid orders.read', 'post-app');
    const idClaims = decodeJwt(tokens.id_token);

    const response = await browser.get(
      endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: signedOut }),
    );
    expect(response.statusCode).toBe(303);
    await target0.requests(2);
    await sink.waitForAudit('backchannel_logout_delivered', 2);
    expect(sink.audits('logout')[0]?.backchannel_clients).toBe(2);
    expect(target0.received.map((entry) => entry.path).sort()).toEqual([
      '/bc/post-app',
      '/bc/web-app?tenant=1',
    ]);

    const keys = await jwks(target);
    for (const entry of target0.received) {
      const audience = entry.path.startsWith('/bc/web-app') ? 'web-app' : 'post-app';
      expect(entry.contentType).toBe('application/x-www-form-urlencoded');
      expect([...entry.body.keys()]).toEqual(['logout_token']);
      const token = entry.body.get('logout_token') ?? '';
      const { payload, protectedHeader } = await jwtVerify(token, keys, {
        issuer,
        audience,
        typ: 'logout+jwt',
        algorithms: ['ES256'],
        requiredClaims: ['iat', 'exp', 'jti', 'sid', 'sub', 'events'],
      });
      expect(protectedHeader.typ).toBe('logout+jwt');
      expect(payload.aud).toBe(audience);
      expect(payload.sub).toBe(idClaims.sub);
      expect(payload.sid).toBe(idClaims.sid);
      expect(payload.events).toEqual({ [backchannelEvent]: {} });
      expect(payload).not.toHaveProperty('nonce');
      expect(typeof payload.jti).toBe('string');
      expect(payload.exp! - payload.iat!).toBe(120);
      expect(payload.iat).toBe(target.clock());
    }
    const jtis = target0.received.map((entry) => decodeJwt(entry.body.get('logout_token') ?? '').jti);
    expect(new Set(jtis).size).toBe(2);
    // The log names the clients but never carries a token.
    const delivered = sink.audits('backchannel_logout_delivered').map((line) => line.client_id);
    expect(delivered.sort()).toEqual(['post-app', 'web-app']);
    for (const entry of target0.received)
      expect(JSON.stringify(sink.lines)).not.toContain(entry.body.get('logout_token'));
  });

  it('no session ended, no logout token: a repeated logout sends nothing more', async () => {
    const target0 = await receiver();
    const { sink, target, browser, tokens } = await signedInWithBackchannel(`${target0.url}/bc`, {
      postLogout: true,
    });
    const cookie = browser.cookies.get('__Host-gh-session') ?? '';
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    await sink.waitForAudit('backchannel_logout_delivered');
    browser.cookies.set('__Host-gh-session', cookie);
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    await target.close();
    expect(target0.received).toHaveLength(1);
    expect(sink.audits('logout')).toHaveLength(1);
  });

  it('retries after an initial 500 and then succeeds', async () => {
    const target0 = await receiver((index, received) =>
      received.response.writeHead(index === 0 ? 500 : 200).end(),
    );
    const { sink, target, browser, tokens } = await signedInWithBackchannel(`${target0.url}/bc`, {
      logout: { backchannelTimeout: 5, backchannelAttempts: 3 },
    });
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    await sink.waitForAudit('backchannel_logout_delivered');
    expect(target0.received).toHaveLength(2);
    expect(sink.audits('backchannel_logout_delivered')[0]).toMatchObject({
      client_id: 'web-app',
      attempts: 2,
    });
    expect(sink.audits('backchannel_logout_failed')).toHaveLength(0);
    const keys = await jwks(target);
    const [first, second] = await Promise.all(
      target0.received.map((entry) =>
        jwtVerify(entry.body.get('logout_token') ?? '', keys, {
          issuer,
          audience: 'web-app',
          typ: 'logout+jwt',
        }),
      ),
    );
    expect(first?.payload.sid).toBe(decodeJwt(tokens.id_token).sid);
    expect(second?.payload.sid).toBe(first?.payload.sid);
    expect(second?.payload.jti).not.toBe(first?.payload.jti);
  });

  it('gives up after the configured attempts and logs the failure without the token', async () => {
    const target0 = await receiver((_index, received) => received.response.writeHead(503).end());
    const { sink, browser, tokens } = await signedInWithBackchannel(`${target0.url}/bc`, {
      logout: { backchannelTimeout: 5, backchannelAttempts: 2 },
    });
    const response = await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    expect(response.statusCode).toBe(200);
    await sink.waitForAudit('backchannel_logout_failed');
    expect(target0.received).toHaveLength(2);
    const [failure] = sink.audits('backchannel_logout_failed');
    expect(failure).toMatchObject({ client_id: 'web-app', status: 503, reason: 'status', attempts: 2 });
    const logged = JSON.stringify(sink.lines);
    for (const entry of target0.received) expect(logged).not.toContain(entry.body.get('logout_token'));
  });

  it('a 400 from the receiver (token rejected) is not retried', async () => {
    const target0 = await receiver((_index, received) => received.response.writeHead(400).end());
    const { sink, target, browser, tokens } = await signedInWithBackchannel(`${target0.url}/bc`, {
      logout: { backchannelTimeout: 5, backchannelAttempts: 5 },
    });
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    await sink.waitForAudit('backchannel_logout_failed');
    expect(sink.audits('backchannel_logout_failed')[0]).toMatchObject({ status: 400, attempts: 1 });
    await target.close();
    expect(target0.received).toHaveLength(1);
  });

  it('a receiver that has not answered does not hold up the logout response', async () => {
    const order: string[] = [];
    const target0 = await receiver(() => order.push('receiver got the logout token'));
    const { sink, browser, tokens } = await signedInWithBackchannel(`${target0.url}/bc`, {
      logout: { backchannelTimeout: 30, backchannelAttempts: 1 },
      postLogout: true,
    });
    const response = await browser.get(
      endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: signedOut, state: 'q' }),
    );
    order.push('user got the logout response');
    expect(response.headers.location).toBe(`${signedOut}?state=q`);
    await target0.requests(1);
    // The receiver still holds the request open: nothing about the delivery is settled yet.
    expect(sink.audits('backchannel_logout_delivered')).toHaveLength(0);
    expect(sink.audits('backchannel_logout_failed')).toHaveLength(0);
    target0.received[0]?.response.writeHead(200).end();
    order.push('receiver answered');
    await sink.waitForAudit('backchannel_logout_delivered');
    expect(order).toEqual([
      'user got the logout response',
      'receiver got the logout token',
      'receiver answered',
    ]);
  });

  it('a hanging receiver times out per attempt, is retried, and the failure is logged', async () => {
    const target0 = await receiver(() => {});
    const { sink, browser, tokens } = await signedInWithBackchannel(`${target0.url}/bc`, {
      logout: { backchannelTimeout: 1, backchannelAttempts: 2 },
    });
    const response = await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    expect(response.statusCode).toBe(200);
    expect(await stillSignedIn(browser)).toBe(false);
    await sink.waitForAudit('backchannel_logout_failed');
    expect(sink.audits('backchannel_logout_failed')[0]).toMatchObject({
      client_id: 'web-app',
      status: null,
      reason: 'timeout',
      attempts: 2,
    });
    expect(target0.received).toHaveLength(2);
  }, 20_000);

  it('closing the server stops retries and waits for nothing more', async () => {
    const target0 = await receiver((_index, received) => received.response.writeHead(500).end());
    const { sink, target, browser, tokens } = await signedInWithBackchannel(`${target0.url}/bc`, {
      logout: { backchannelTimeout: 5, backchannelAttempts: 10 },
    });
    await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }));
    await target0.requests(1);
    await target.close();
    expect(sink.audits('backchannel_logout_failed')[0]).toMatchObject({
      client_id: 'web-app',
      reason: 'shutdown',
      attempts: 1,
    });
    expect(target0.received).toHaveLength(1);
  });

  it('an unreachable receiver is logged as a network failure', async () => {
    const gone = await new Receiver(ok).start();
    await gone.close();
    const { sink, browser, tokens } = await signedInWithBackchannel(`${gone.url}/bc`, {
      logout: { backchannelTimeout: 2, backchannelAttempts: 1 },
    });
    expect((await browser.get(endSessionUrl({ id_token_hint: tokens.id_token }))).statusCode).toBe(200);
    await sink.waitForAudit('backchannel_logout_failed');
    expect(sink.audits('backchannel_logout_failed')[0]).toMatchObject({ reason: 'network', attempts: 1 });
  });
});

describe('interop: openid-client buildEndSessionUrl on a real port', () => {
  it('logs out with id_token_hint, post_logout_redirect_uri and state, then prompt=none needs a login', async () => {
    const listening = await startListening({ clients: testClients(webAppLogout) });
    cleanups.push(() => listening.close());
    const config = await discoverWebApp(listening.issuer);
    expect(config.serverMetadata().end_session_endpoint).toBe(`${listening.issuer}/end_session`);

    const browser = new FetchBrowser(listening.issuer);
    const authorize = async (extra: Record<string, string> = {}) => {
      const { verifier, state, nonce, parameters } = await authorizationParameters(
        webRedirect,
        'openid profile orders.read',
      );
      const url = client.buildAuthorizationUrl(config, { ...parameters, ...extra });
      return { url, verifier, state, nonce };
    };
    const started = await authorize();
    const { location } = await browser.walk(started.url);
    const tokens = await client.authorizationCodeGrant(config, new URL(location), {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    });
    const idToken = tokens.id_token ?? '';
    expect(decodeProtectedHeader(idToken).typ).toBe('JWT');

    const logoutState = client.randomState();
    const endSession = client.buildEndSessionUrl(config, {
      id_token_hint: idToken,
      post_logout_redirect_uri: signedOut,
      state: logoutState,
    });
    expect(endSession.origin + endSession.pathname).toBe(`${listening.issuer}/end_session`);
    const response = await browser.get(endSession.href);
    expect(response.status).toBe(303);
    const back = new URL(response.headers.get('location') ?? '');
    expect(back.origin + back.pathname).toBe(signedOut);
    expect(back.searchParams.get('state')).toBe(logoutState);
    expect(response.headers.getSetCookie().some((line) => line.startsWith('__Host-gh-session=;'))).toBe(true);

    const silent = await authorize({ prompt: 'none' });
    const denied = await browser.get(silent.url.href);
    expect(denied.status).toBe(303);
    const error = new URL(denied.headers.get('location') ?? '');
    expect(error.searchParams.get('error')).toBe('login_required');
    expect(error.searchParams.get('state')).toBe(silent.state);

    // The access token from the ended session (no offline_access) is refused by userinfo.
    await expect(
      client.fetchUserInfo(config, tokens.access_token, tokens.claims()?.sub ?? ''),
    ).rejects.toThrow();
  });
});
