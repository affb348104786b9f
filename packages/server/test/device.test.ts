/**
 * Device authorization grant (RFC 8628): the device authorization endpoint (§3.1, §3.2), the verification
 * page (§3.3, §5.1, §5.4), token polling with every error code (§3.4, §3.5) and single use, driven through
 * inject() with a controllable clock; then end to end over a real port by openid-client (its device grant:
 * initiateDeviceAuthorization + pollDeviceAuthorizationGrant) and by the example CLI as a child process,
 * with the verification page filled in over HTTP as a user would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import { totpCode } from '../src/authn/totp.ts';
import { deviceCsrfToken } from '../src/protocol/device-authorization.ts';
import { sha256Base64Url } from '../src/protocol/secrets.ts';
import { databaseOf } from '../src/storage/testing.ts';
import { escapeHtml } from '../src/views/html.ts';
import { de } from '../src/views/locales/de.ts';
import { en } from '../src/views/locales/en.ts';
import { es } from '../src/views/locales/es.ts';
import { fr } from '../src/views/locales/fr.ts';
import {
  Browser,
  basic,
  deviceGrant,
  enrolTotp,
  form,
  formOf,
  issuer,
  password,
  startServer,
  type TestServer,
  testClients,
  tokenRequest,
  webAppAuth,
} from './helpers.ts';
import { decideDeviceCode, FetchBrowser, type ListeningServer, startListening } from './interop-helpers.ts';

const deviceSecret = 'device-secret-client-secret-0123456789-abcdefgh';
const userCodePattern = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const fullScope = 'openid profile offline_access api1.read';

const deviceClients = [
  ...testClients(),
  {
    clientId: 'device-app',
    name: 'TV Device',
    tokenEndpointAuthMethod: 'none',
    grantTypes: [deviceGrant, 'refresh_token'],
    scopes: ['openid', 'profile', 'offline_access', 'api1.read'],
  },
  {
    clientId: 'device-secret',
    name: 'Confidential Device',
    secret: deviceSecret,
    grantTypes: [deviceGrant],
    scopes: ['openid', 'api1.read', 'orders.read'],
    requireConsent: false,
  },
  {
    clientId: 'device-other',
    name: 'Other Device',
    tokenEndpointAuthMethod: 'none',
    grantTypes: [deviceGrant],
    scopes: ['api1.read'],
  },
];

let servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

async function deviceServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const server = await startServer({ clients: deviceClients, ...overrides });
  servers.push(server);
  return server;
}

interface DeviceResponse {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
}

async function deviceAuthorization(
  server: TestServer,
  values: Record<string, string | string[] | undefined>,
  authorization?: string,
  contentType = 'application/x-www-form-urlencoded',
): Promise<DeviceResponse> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(values))
    for (const item of value === undefined ? [] : [value].flat()) body.append(name, item);
  const response = await server.app.inject({
    method: 'POST',
    url: '/device_authorization',
    headers: { 'content-type': contentType, ...(authorization ? { authorization } : {}) },
    payload: body.toString(),
  });
  return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body) };
}

interface Issued {
  deviceCode: string;
  userCode: string;
  body: Record<string, unknown>;
}

async function issue(server: TestServer, clientId = 'device-app', scope = fullScope): Promise<Issued> {
  const response = await deviceAuthorization(server, { client_id: clientId, scope });
  if (response.status !== 200) throw new Error(`device authorization: ${JSON.stringify(response.body)}`);
  return {
    deviceCode: response.body.device_code as string,
    userCode: response.body.user_code as string,
    body: response.body,
  };
}

function poll(server: TestServer, deviceCode: string | undefined, clientId = 'device-app') {
  return tokenRequest(server, { grant_type: deviceGrant, device_code: deviceCode, client_id: clientId });
}

function expectError(
  response: { status: number; headers: Record<string, unknown>; body: Record<string, unknown> },
  error: string,
  status = 400,
) {
  expect(response.body.error).toBe(error);
  expect(response.status).toBe(status);
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.body.access_token).toBeUndefined();
  expect(response.body.id_token).toBeUndefined();
  expect(response.body.refresh_token).toBeUndefined();
}

/** Signs `username` in through the device page's own sign-in form; returns the code entry page. */
async function signIn(browser: Browser, username = 'alice', query = '') {
  const page = await browser.get(`/device${query}`);
  expect(page.statusCode).toBe(200);
  const signInForm = formOf(page.body);
  expect(signInForm.action).toBe(`${issuer}/device/login`);
  const userCode = /name="user_code" value="([^"]*)"/.exec(page.body)?.[1];
  const response = await browser.post(signInForm.action, {
    csrf: signInForm.csrf,
    username,
    password,
    user_code: userCode,
  });
  expect(response.statusCode).toBe(303);
  // The code entry page (or the lock page when code entry is locked for this user).
  return browser.get(response.headers.location as string);
}

async function signedInBrowser(server: TestServer, username = 'alice') {
  const browser = new Browser(server);
  const entry = await signIn(browser, username);
  return { browser, entry };
}

/** Submits a code on the entry page; returns the response (the confirmation page when the code is good). */
async function enterCode(browser: Browser, entryHtml: string, userCode: string) {
  const entryForm = formOf(entryHtml);
  expect(entryForm.action).toBe(`${issuer}/device`);
  return browser.post(entryForm.action, { csrf: entryForm.csrf, user_code: userCode });
}

async function decide(browser: Browser, confirmHtml: string, decision: 'approve' | 'deny') {
  const confirmForm = formOf(confirmHtml);
  expect(confirmForm.action).toBe(`${issuer}/device/decision`);
  const userCode = /name="user_code" value="([^"]*)"/.exec(confirmHtml)?.[1];
  return browser.post(confirmForm.action, { csrf: confirmForm.csrf, user_code: userCode, decision });
}

/** A user signs in, enters the code and decides. */
async function userDecides(
  server: TestServer,
  userCode: string,
  decision: 'approve' | 'deny',
  username = 'alice',
) {
  const { browser, entry } = await signedInBrowser(server, username);
  const confirm = await enterCode(browser, entry.body, userCode);
  expect(confirm.statusCode).toBe(200);
  const done = await decide(browser, confirm.body, decision);
  expect(done.statusCode).toBe(200);
  return { browser, done };
}

describe('device authorization endpoint (RFC 8628 §3.1, §3.2)', () => {
  it('issues a 256-bit device code stored hashed, a short unambiguous user code, both URIs, expires_in and interval', async () => {
    const server = await deviceServer();
    const response = await deviceAuthorization(server, { client_id: 'device-app', scope: fullScope });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = response.body;
    expect(body.device_code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.user_code).toMatch(userCodePattern);
    expect(body.verification_uri).toBe(`${issuer}/device`);
    expect(body.verification_uri_complete).toBe(`${issuer}/device?user_code=${body.user_code}`);
    expect(body.expires_in).toBe(600);
    expect(body.interval).toBe(5);

    const stored = await server.ctx.storage.deviceCodes.findByHash(
      sha256Base64Url(body.device_code as string),
    );
    expect(stored).toMatchObject({
      clientId: 'device-app',
      scope: fullScope.split(' '),
      status: 'pending',
      userCode: (body.user_code as string).replace('-', ''),
    });
    const rows = await databaseOf(server.ctx.storage).selectFrom('device_codes').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(body.device_code as string);
  });

  it('draws distinct user codes from the consonant alphabet', async () => {
    const server = await deviceServer();
    const codes = new Set<string>();
    for (let index = 0; index < 30; index++) {
      const { userCode, deviceCode } = await issue(server);
      expect(userCode).toMatch(userCodePattern);
      expect(deviceCode).toMatch(/^[A-Za-z0-9_-]{43}$/);
      codes.add(userCode);
    }
    expect(codes.size).toBe(30);
  });

  it('authenticates a confidential client with client_secret_basic and keeps RFC 8707 resources', async () => {
    const server = await deviceServer();
    const response = await deviceAuthorization(
      server,
      { scope: 'api1.read', resource: 'https://api1.example.com' },
      basic('device-secret', deviceSecret),
    );
    expect(response.status).toBe(200);
    const stored = await server.ctx.storage.deviceCodes.findByHash(
      sha256Base64Url(response.body.device_code as string),
    );
    expect(stored?.resources).toEqual(['https://api1.example.com']);
  });

  it('answers unauthorized_client to a client not registered for the device grant', async () => {
    const server = await deviceServer();
    expectError(await deviceAuthorization(server, { scope: 'openid' }, webAppAuth), 'unauthorized_client');
    expect(
      await databaseOf(server.ctx.storage).selectFrom('device_codes').selectAll().execute(),
    ).toHaveLength(0);
  });

  it('answers invalid_client to unknown clients, wrong secrets and missing authentication', async () => {
    const server = await deviceServer();
    const unknown = await deviceAuthorization(server, { client_id: 'nobody', scope: 'openid' });
    expectError(unknown, 'invalid_client', 401);
    const wrongSecret = await deviceAuthorization(
      server,
      { scope: 'openid' },
      basic('device-secret', 'x'.repeat(40)),
    );
    expectError(wrongSecret, 'invalid_client', 401);
    expect(wrongSecret.headers['www-authenticate']).toMatch(/^Basic /);
    expectError(await deviceAuthorization(server, { scope: 'openid' }), 'invalid_client', 401);
    // A confidential client may not fall back to sending only its client_id.
    expectError(
      await deviceAuthorization(server, { client_id: 'device-secret', scope: 'openid' }),
      'invalid_client',
      401,
    );
  });

  it('answers invalid_scope to a missing, unknown or unregistered scope', async () => {
    const server = await deviceServer();
    expectError(await deviceAuthorization(server, { client_id: 'device-app' }), 'invalid_scope');
    expectError(
      await deviceAuthorization(server, { client_id: 'device-app', scope: 'openid nonsense' }),
      'invalid_scope',
    );
    expectError(
      await deviceAuthorization(server, { client_id: 'device-app', scope: 'openid orders.read' }),
      'invalid_scope',
    );
  });

  it('answers invalid_target to an unknown resource', async () => {
    const server = await deviceServer();
    expectError(
      await deviceAuthorization(server, {
        client_id: 'device-app',
        scope: 'api1.read',
        resource: 'https://unknown.example.com',
      }),
      'invalid_target',
    );
  });

  it('answers invalid_request to a repeated parameter or a body that is not a form, and 405 to GET', async () => {
    const server = await deviceServer();
    const repeated = await server.app.inject({
      method: 'POST',
      url: '/device_authorization',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'client_id=device-app&scope=openid&scope=profile',
    });
    expect(repeated.statusCode).toBe(400);
    expect(JSON.parse(repeated.body).error).toBe('invalid_request');
    const json = await server.app.inject({
      method: 'POST',
      url: '/device_authorization',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ client_id: 'device-app', scope: 'openid' }),
    });
    expect(json.statusCode).toBe(415);
    expect(JSON.parse(json.body).error).toBe('invalid_request');
    const get = await server.app.inject({
      method: 'GET',
      url: '/device_authorization?client_id=device-app&scope=openid',
    });
    expect(get.statusCode).toBe(405);
    expect(
      await databaseOf(server.ctx.storage).selectFrom('device_codes').selectAll().execute(),
    ).toHaveLength(0);
  });

  it('rate limits per client and per IP', async () => {
    const server = await deviceServer({
      rateLimits: {
        deviceAuthorizationPerClient: { limit: 2, window: 60 },
        deviceAuthorizationPerIp: { limit: 3, window: 60 },
      },
    });
    await issue(server);
    await issue(server);
    const perClient = await deviceAuthorization(server, { client_id: 'device-app', scope: 'openid' });
    expectError(perClient, 'temporarily_unavailable', 429);
    expect(Number(perClient.headers['retry-after'])).toBeGreaterThan(0);
    // The IP's fourth request is refused whichever client makes it.
    const perIp = await deviceAuthorization(server, { client_id: 'device-other', scope: 'api1.read' });
    expectError(perIp, 'temporarily_unavailable', 429);
    server.clock.advance(60);
    expect((await deviceAuthorization(server, { client_id: 'device-app', scope: 'openid' })).status).toBe(
      200,
    );
  });

  it('is advertised in discovery together with the grant type', async () => {
    const server = await deviceServer();
    const response = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    const metadata = JSON.parse(response.body);
    expect(metadata.device_authorization_endpoint).toBe(`${issuer}/device_authorization`);
    expect(metadata.grant_types_supported).toContain(deviceGrant);
  });
});

describe('token polling (RFC 8628 §3.4, §3.5)', () => {
  it('answers invalid_request without device_code and invalid_grant to unknown or another client’s code', async () => {
    const server = await deviceServer();
    expectError(await poll(server, undefined), 'invalid_request');
    expectError(await poll(server, 'A'.repeat(43)), 'invalid_grant');
    const { deviceCode } = await issue(server, 'device-other', 'api1.read');
    expectError(await poll(server, deviceCode, 'device-app'), 'invalid_grant');
    // The owner's code was not touched by the other client's attempt.
    expectError(await poll(server, deviceCode, 'device-other'), 'authorization_pending');
  });

  it('answers unauthorized_client to a client not registered for the grant', async () => {
    const server = await deviceServer();
    const { deviceCode } = await issue(server);
    expectError(
      await tokenRequest(server, { grant_type: deviceGrant, device_code: deviceCode }, webAppAuth),
      'unauthorized_client',
    );
  });

  it('answers authorization_pending while the user has not decided', async () => {
    const server = await deviceServer();
    const { deviceCode } = await issue(server);
    expectError(await poll(server, deviceCode), 'authorization_pending');
    server.clock.advance(5);
    expectError(await poll(server, deviceCode), 'authorization_pending');
  });

  it('answers slow_down to a poll sooner than the interval, and the interval grows by 5 seconds each time', async () => {
    const server = await deviceServer();
    const { deviceCode } = await issue(server);
    const stored = () => server.ctx.storage.deviceCodes.findByHash(sha256Base64Url(deviceCode));
    expectError(await poll(server, deviceCode), 'authorization_pending');
    server.clock.advance(4);
    expectError(await poll(server, deviceCode), 'slow_down');
    expect((await stored())?.interval).toBe(10);
    // 5 seconds was enough before; now it is too soon, and the interval grows again.
    server.clock.advance(5);
    expectError(await poll(server, deviceCode), 'slow_down');
    expect((await stored())?.interval).toBe(15);
    server.clock.advance(15);
    expectError(await poll(server, deviceCode), 'authorization_pending');
    expect((await stored())?.interval).toBe(15);
  });

  it('answers expired_token once the code has expired, pending or approved', async () => {
    const server = await deviceServer();
    const pending = await issue(server);
    const approved = await issue(server);
    await userDecides(server, approved.userCode, 'approve');
    server.clock.advance(599);
    expectError(await poll(server, pending.deviceCode), 'authorization_pending');
    server.clock.advance(1);
    expectError(await poll(server, pending.deviceCode), 'expired_token');
    expectError(await poll(server, approved.deviceCode), 'expired_token');
  });

  it('answers access_denied (HTTP 400) after the user denied, at every later poll', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    await userDecides(server, userCode, 'deny');
    expectError(await poll(server, deviceCode), 'access_denied');
    server.clock.advance(5);
    expectError(await poll(server, deviceCode), 'access_denied');
  });

  it('issues access, id and refresh tokens sharing one grant once approved, then invalid_grant', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    expectError(await poll(server, deviceCode), 'authorization_pending');
    server.clock.advance(5);
    await userDecides(server, userCode, 'approve');
    const tokens = await poll(server, deviceCode);
    expect(tokens.status).toBe(200);
    expect(tokens.headers['cache-control']).toBe('no-store');
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', scope: fullScope });
    const user = await server.ctx.storage.users.findByUsername('alice');
    const idToken = decodeJwt(tokens.body.id_token as string);
    expect(idToken).toMatchObject({ iss: issuer, aud: 'device-app', sub: user?.id, amr: ['pwd'] });
    expect(idToken.sid).toEqual(expect.any(String));
    expect(idToken.auth_time).toEqual(expect.any(Number));
    expect(idToken.nonce).toBeUndefined();
    const access = decodeJwt(tokens.body.access_token as string);
    expect(access).toMatchObject({ sub: user?.id, client_id: 'device-app', aud: 'api1' });
    const grant = await server.ctx.storage.grants.find(access.grant_id as string);
    expect(grant).toMatchObject({
      clientId: 'device-app',
      userId: user?.id,
      sid: idToken.sid,
      revokedAt: null,
    });

    // The refresh token belongs to the same grant.
    const refreshed = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token as string,
      client_id: 'device-app',
    });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.access_token as string).grant_id).toBe(access.grant_id);

    expectError(await poll(server, deviceCode), 'invalid_grant');
    server.clock.advance(10);
    expectError(await poll(server, deviceCode), 'invalid_grant');
  });

  it('issues no refresh token without offline_access and no id_token without openid', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server, 'device-app', 'api1.read');
    await userDecides(server, userCode, 'approve');
    const tokens = await poll(server, deviceCode);
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope).toBe('api1.read');
    expect(tokens.body.refresh_token).toBeUndefined();
    expect(tokens.body.id_token).toBeUndefined();
  });

  it('lets the token request narrow the approved resources, and refuses others without using the code', async () => {
    const server = await deviceServer();
    const response = await deviceAuthorization(
      server,
      {
        scope: 'api1.read orders.read',
        resource: ['https://api1.example.com', 'https://api.example.com/orders'],
      },
      basic('device-secret', deviceSecret),
    );
    const deviceCode = response.body.device_code as string;
    await userDecides(server, response.body.user_code as string, 'approve');
    const pollWith = (resource: string) =>
      tokenRequest(
        server,
        { grant_type: deviceGrant, device_code: deviceCode, resource },
        basic('device-secret', deviceSecret),
      );
    expectError(await pollWith('https://unknown.example.com'), 'invalid_target');
    const tokens = await pollWith('https://api1.example.com');
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token as string)).toMatchObject({ aud: 'api1', scope: 'api1.read' });
  });

  it('creates the grant at approval: signing out of that session first leaves nothing to redeem without offline_access', async () => {
    const server = await deviceServer();
    const online = await issue(server, 'device-app', 'openid api1.read');
    const offline = await issue(server, 'device-app', fullScope);
    const { browser } = await userDecides(server, online.userCode, 'approve');
    const confirm = await enterCode(browser, (await browser.get('/device')).body, offline.userCode);
    expect((await decide(browser, confirm.body, 'approve')).statusCode).toBe(200);
    const grants = await databaseOf(server.ctx.storage).selectFrom('grants').selectAll().execute();
    expect(grants).toHaveLength(2);

    const logout = formOf((await browser.get('/end_session')).body);
    expect((await browser.post(logout.action, { csrf: logout.csrf })).statusCode).toBeLessThan(400);
    expectError(await poll(server, online.deviceCode), 'invalid_grant');
    // The user asked for access that outlives the browser session: that device still gets its tokens.
    const tokens = await poll(server, offline.deviceCode);
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toEqual(expect.any(String));
  });

  it('gives exactly one of ten concurrent polls the tokens', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    await userDecides(server, userCode, 'approve');
    const responses = await Promise.all(Array.from({ length: 10 }, () => poll(server, deviceCode)));
    const winners = responses.filter((response) => response.status === 200);
    expect(winners).toHaveLength(1);
    expect(winners[0]?.body.access_token).toEqual(expect.any(String));
    for (const loser of responses.filter((response) => response.status !== 200))
      expectError(loser, 'invalid_grant');
    expect(await databaseOf(server.ctx.storage).selectFrom('grants').selectAll().execute()).toHaveLength(1);
    expect(
      await databaseOf(server.ctx.storage).selectFrom('refresh_tokens').selectAll().execute(),
    ).toHaveLength(1);
  });
});

describe('verification page (RFC 8628 §3.3, §5.1, §5.4)', () => {
  it('asks a visitor who is not signed in to sign in first, with a strict CSP, no script and a CSRF token', async () => {
    const server = await deviceServer();
    const { userCode } = await issue(server);
    const browser = new Browser(server);
    const page = await browser.get(`/device?user_code=${userCode}`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(
      /^default-src 'none'; style-src 'sha256-[^']+'; /,
    );
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['content-security-policy']).not.toContain('script-src');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).not.toMatch(/<script/i);
    expect(page.body).toContain('name="password"');
    expect(page.body).toContain(`name="user_code" value="${userCode}"`);
    const browserId = browser.cookies.get('__Host-gh-browser');
    expect(browserId).toEqual(expect.any(String));
    expect(formOf(page.body).csrf).toBe(deviceCsrfToken(browserId!, undefined));

    // After signing in the code is pre-filled, not yet looked up: the user still confirms it.
    const entry = await signIn(browser, 'alice', `?user_code=${userCode.toLowerCase()}`);
    expect(entry.body).toContain(`name="user_code" autocomplete="off"`);
    expect(entry.body).toContain(`value="${userCode}"`);
    expect(entry.body).not.toMatch(/<script/i);
    expect(entry.headers['content-security-policy']).toMatch(/^default-src 'none'/);
  });

  it('shows the client, the scopes in words and the code, then approves; consent is remembered', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const confirm = await enterCode(browser, entry.body, userCode);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('TV Device wants to access your account');
    for (const words of ['Sign you in', 'Your profile', 'Stay signed in', 'Read API 1'])
      expect(confirm.body).toContain(words);
    expect(confirm.body).toContain(`<strong>${userCode}</strong>`);
    expect(confirm.body).toContain('value="approve"');
    expect(confirm.body).toContain('value="deny"');
    expect(confirm.body).not.toMatch(/<script/i);
    // Looking the code up decides nothing.
    expectError(await poll(server, deviceCode), 'authorization_pending');

    const done = await decide(browser, confirm.body, 'approve');
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Device connected');
    const user = await server.ctx.storage.users.findByUsername('alice');
    expect(await server.ctx.storage.consents.find(user!.id, 'device-app')).toEqual(fullScope.split(' '));
    server.clock.advance(5);
    expect((await poll(server, deviceCode)).status).toBe(200);
  });

  it('shows the confirmation even to a client that skips consent in the authorization flow', async () => {
    const server = await deviceServer();
    const response = await deviceAuthorization(
      server,
      { scope: 'openid api1.read' },
      basic('device-secret', deviceSecret),
    );
    const { browser, entry } = await signedInBrowser(server);
    const confirm = await enterCode(browser, entry.body, response.body.user_code as string);
    expect(confirm.body).toContain('Confidential Device wants to access your account');
    expect(confirm.body).toContain('value="approve"');
  });

  it('denies: the result page says so and the device gets access_denied', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    const { done } = await userDecides(server, userCode, 'deny');
    expect(done.body).toContain('Access denied');
    expectError(await poll(server, deviceCode), 'access_denied');
    const user = await server.ctx.storage.users.findByUsername('alice');
    expect(await server.ctx.storage.consents.find(user!.id, 'device-app')).toEqual([]);
  });

  it('normalises what the user types: case, dashes and spaces', async () => {
    const server = await deviceServer();
    const { userCode } = await issue(server);
    const bare = userCode.replace('-', '');
    const { browser, entry } = await signedInBrowser(server);
    for (const typed of [
      userCode.toLowerCase(),
      bare.toLowerCase(),
      `${bare.slice(0, 2)} ${bare.slice(2, 6)}  ${bare.slice(6)}`,
      ` ${bare.split('').join('-')} `,
      `${userCode.slice(0, 4).toLowerCase()}-${userCode.slice(5)}`,
      `${userCode.slice(0, 4)}\u2013${userCode.slice(5)}`,
      `\t${bare}\n`,
    ]) {
      const confirm = await enterCode(browser, entry.body, typed);
      expect(confirm.statusCode, typed).toBe(200);
      expect(confirm.body).toContain('TV Device wants to access your account');
      expect(confirm.body).toContain(`name="user_code" value="${userCode}"`);
    }
  });

  it('offers no approval for a code whose client was disabled since (admin API), and its polls are refused', async () => {
    const server = await deviceServer();
    const { userCode, deviceCode } = await issue(server);
    expect(await server.ctx.storage.clients.setDisabled('device-app', server.clock())).toBe(true);
    const { browser, entry } = await signedInBrowser(server);
    const response = await enterCode(browser, entry.body, userCode);
    expect(response.body).toContain('no longer registered');
    expect(response.body).not.toContain('wants to access your account');
    expectError(await poll(server, deviceCode), 'invalid_client', 401);
  });

  it('rejects a wrong code with a clear message and records the failure', async () => {
    const server = await deviceServer();
    await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const response = await enterCode(browser, entry.body, 'BBBB-BBBB');
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('That code is not valid');
    expect(response.body).toContain('value="BBBB-BBBB"');
    // Characters outside the alphabet (0, O, 1, I, vowels) are never a code.
    expect((await enterCode(browser, entry.body, 'OOOO-0000')).statusCode).toBe(400);
  });

  it('locks code entry after maxUserCodeFailures wrong codes, for this browser and this user, then recovers', async () => {
    const server = await deviceServer({ device: { maxUserCodeFailures: 3 } });
    const { userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    expect((await enterCode(browser, entry.body, 'BBBB-BBBB')).statusCode).toBe(400);
    expect((await enterCode(browser, entry.body, 'BBBB-BBBC')).statusCode).toBe(400);
    const third = await enterCode(browser, entry.body, 'BBBB-BBBD');
    expect(third.statusCode).toBe(429);
    expect(third.body).toContain('Code entry is locked for this browser because of too many wrong codes');
    expect(third.headers['retry-after']).toBe('1');
    expect(third.body).not.toContain('<form');
    // While locked even the right code is refused, and the page says so.
    const locked = await enterCode(browser, entry.body, userCode);
    expect(locked.statusCode).toBe(429);
    expect(locked.body).toContain('too many wrong codes');
    expect(locked.body).not.toContain('wants to access your account');
    // The same user in a fresh browser is locked too; another user is not.
    const again = await signedInBrowser(server, 'alice');
    expect(again.entry.statusCode).toBe(429);
    const bob = await signedInBrowser(server, 'bob');
    expect((await enterCode(bob.browser, bob.entry.body, userCode)).statusCode).toBe(200);

    // The lock lifts; each further wrong code doubles it.
    server.clock.advance(1);
    expect((await enterCode(browser, entry.body, userCode)).statusCode).toBe(200);
    const fourth = await enterCode(browser, entry.body, 'BBBB-BBBF');
    expect(fourth.statusCode).toBe(429);
    expect(fourth.headers['retry-after']).toBe('2');
    server.clock.advance(1);
    expect((await enterCode(browser, entry.body, userCode)).statusCode).toBe(429);
    server.clock.advance(1);
    expect((await enterCode(browser, entry.body, userCode)).statusCode).toBe(200);

    // A code lifetime after the last wrong code the count is forgotten: two wrong codes lock nothing.
    server.clock.advance(600);
    const fresh = await issue(server);
    const later = await browser.get('/device');
    expect(later.statusCode).toBe(200);
    expect((await enterCode(browser, later.body, 'BBBB-BBBB')).statusCode).toBe(400);
    expect((await enterCode(browser, later.body, 'BBBB-BBBC')).statusCode).toBe(400);
    expect((await enterCode(browser, later.body, fresh.userCode)).statusCode).toBe(200);
  });

  it('limits code lookups per IP, whatever the browser or user', async () => {
    const server = await deviceServer({ rateLimits: { userCodePerIp: { limit: 3, window: 60 } } });
    const { userCode } = await issue(server);
    const alice = await signedInBrowser(server, 'alice');
    expect((await enterCode(alice.browser, alice.entry.body, userCode)).statusCode).toBe(200);
    expect((await enterCode(alice.browser, alice.entry.body, 'BBBB-BBBB')).statusCode).toBe(400);
    const bob = await signedInBrowser(server, 'bob');
    expect((await enterCode(bob.browser, bob.entry.body, userCode)).statusCode).toBe(200);
    const limited = await enterCode(bob.browser, bob.entry.body, userCode);
    expect(limited.statusCode).toBe(429);
    expect(limited.body).toContain('Too many codes were entered from your network');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).not.toContain('wants to access your account');
    server.clock.advance(60);
    expect((await enterCode(bob.browser, bob.entry.body, userCode)).statusCode).toBe(200);
  });

  it('refuses a missing or wrong CSRF token on every form and changes nothing', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    const visitor = new Browser(server);
    const signInPage = await visitor.get('/device');
    for (const csrf of [undefined, 'x'.repeat(43), formOf(signInPage.body).csrf.slice(1)]) {
      const response = await visitor.post('/device/login', { csrf, username: 'alice', password });
      expect(response.statusCode).toBe(400);
      expect(response.body).toContain('The form has expired');
      expect(String(response.headers['set-cookie'] ?? '')).not.toContain('__Host-gh-session');
    }

    const { browser, entry } = await signedInBrowser(server);
    const confirm = await enterCode(browser, entry.body, userCode);
    for (const csrf of [undefined, 'x'.repeat(43)]) {
      const lookup = await browser.post('/device', { csrf, user_code: userCode });
      expect(lookup.statusCode).toBe(400);
      expect(lookup.body).not.toContain('wants to access your account');
      const decision = await browser.post('/device/decision', {
        csrf,
        user_code: userCode,
        decision: 'approve',
      });
      expect(decision.statusCode).toBe(400);
      expect(decision.body).toContain('The form has expired');
    }
    // The sign-in form's token (no session) is not valid for the signed-in forms.
    const loginToken = deviceCsrfToken(browser.cookies.get('__Host-gh-browser')!, undefined);
    expect(
      (await browser.post('/device/decision', { csrf: loginToken, user_code: userCode, decision: 'approve' }))
        .statusCode,
    ).toBe(400);
    // Another browser's token is refused.
    const other = await signedInBrowser(server, 'bob');
    const otherCsrf = formOf(other.entry.body).csrf;
    expect(
      (await browser.post('/device/decision', { csrf: otherCsrf, user_code: userCode, decision: 'approve' }))
        .statusCode,
    ).toBe(400);
    // No browser cookie at all.
    const cookieless = await server.app.inject({
      method: 'POST',
      url: '/device/decision',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ csrf: formOf(confirm.body).csrf, user_code: userCode, decision: 'approve' }),
    });
    expect(cookieless.statusCode).toBe(400);
    expectError(await poll(server, deviceCode), 'authorization_pending');
  });

  it('refuses a form rendered for another user after a different user signed in in the same browser', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server, 'alice');
    const confirm = await enterCode(browser, entry.body, userCode);
    // "Not you?" shows the sign-in form again; Bob signs in on the same browser.
    const switchUrl = /<a href="([^"]+)">Not you\?<\/a>/.exec(entry.body)?.[1];
    expect(switchUrl).toBe(`${issuer}/device?prompt=login`);
    const bobEntry = await signIn(browser, 'bob', '?prompt=login');
    expect(bobEntry.statusCode).toBe(200);
    expect(bobEntry.body).toContain('Signed in as bob.');
    const response = await decide(browser, confirm.body, 'approve');
    expect(response.statusCode).toBe(400);
    expectError(await poll(server, deviceCode), 'authorization_pending');
  });

  it('asks to sign in again when the session ended before the form was sent', async () => {
    const server = await deviceServer();
    const { deviceCode, userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const confirm = await enterCode(browser, entry.body, userCode);
    server.clock.advance(server.config.login.sessionTtl);
    const response = await decide(browser, confirm.body, 'approve');
    expect(response.statusCode).toBe(401);
    expect(response.body).toContain('Your session has ended');
    expect(response.body).toContain('name="password"');
    expectError(await poll(server, deviceCode), 'expired_token');
  });

  it('refuses an expired code, a code already decided, and an unknown decision', async () => {
    const server = await deviceServer();
    const expiring = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const confirm = await enterCode(browser, entry.body, expiring.userCode);
    const unknownDecision = await browser.post('/device/decision', {
      csrf: formOf(confirm.body).csrf,
      user_code: expiring.userCode,
      decision: 'maybe',
    });
    expect(unknownDecision.statusCode).toBe(400);
    expect(unknownDecision.body).toContain('Choose Approve or Deny');
    server.clock.advance(600);
    expect((await decide(browser, confirm.body, 'approve')).statusCode).toBe(400);
    expect((await enterCode(browser, entry.body, expiring.userCode)).statusCode).toBe(400);
    expectError(await poll(server, expiring.deviceCode), 'expired_token');

    const once = await issue(server);
    const secondConfirm = await enterCode(browser, entry.body, once.userCode);
    expect((await decide(browser, secondConfirm.body, 'deny')).statusCode).toBe(200);
    const again = await decide(browser, secondConfirm.body, 'approve');
    expect(again.statusCode).toBe(400);
    expectError(await poll(server, once.deviceCode), 'access_denied');
  });

  it('audits approvals, denials and wrong codes without codes or tokens', async () => {
    const lines: string[] = [];
    const { Writable } = await import('node:stream');
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await startServer({ clients: deviceClients, logging: { level: 'info' } }, { logStream });
    servers.push(server);
    const approved = await issue(server);
    const denied = await issue(server);
    await userDecides(server, approved.userCode, 'approve');
    await userDecides(server, denied.userCode, 'deny');
    const { browser, entry } = await signedInBrowser(server);
    await enterCode(browser, entry.body, 'BBBB-BBBB');
    const events = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.audit);
    const names = events.map((event) => event.audit);
    expect(names).toContain('device_authorization_issued');
    expect(names).toContain('device_approved');
    expect(names).toContain('device_denied');
    expect(names).toContain('user_code_failed');
    const approval = events.find((event) => event.audit === 'device_approved');
    expect(approval).toMatchObject({ client_id: 'device-app', scope: fullScope });
    const text = lines.join('\n');
    for (const secret of [
      approved.userCode,
      approved.deviceCode,
      approved.userCode.replace('-', ''),
      denied.deviceCode,
    ])
      expect(text).not.toContain(secret);
  });
});

describe('end to end over a real port', () => {
  async function listening(): Promise<ListeningServer> {
    const server = await startListening({ clients: deviceClients, device: { interval: 1 } });
    servers.push(server);
    return server;
  }

  function discover(server: ListeningServer) {
    return client.discovery(new URL(server.issuer), 'device-app', undefined, client.None(), {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    });
  }

  it('openid-client: initiateDeviceAuthorization, the page filled over HTTP, pollDeviceAuthorizationGrant', async () => {
    const server = await listening();
    const config = await discover(server);
    expect(config.serverMetadata().device_authorization_endpoint).toBe(
      `${server.issuer}/device_authorization`,
    );
    const authorization = await client.initiateDeviceAuthorization(config, { scope: fullScope });
    expect(authorization.user_code).toMatch(userCodePattern);
    expect(authorization.verification_uri).toBe(`${server.issuer}/device`);
    expect(authorization.interval).toBe(1);
    const polling = client.pollDeviceAuthorizationGrant(config, authorization);
    await decideDeviceCode(
      new FetchBrowser(server.issuer),
      authorization.verification_uri_complete!,
      'approve',
    );
    const tokens = await polling;
    // openid-client validated the id_token (signature over the JWKS, iss, aud, exp, iat) before returning.
    const claims = tokens.claims();
    const user = await server.ctx.storage.users.findByUsername('alice');
    expect(claims?.sub).toBe(user?.id);
    expect(claims?.aud).toBe('device-app');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope).toBe(fullScope);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims!.sub);
    expect(info.name).toBe('Alice Smith');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()?.sub).toBe(user?.id);
  });

  it('openid-client: a denial ends polling with access_denied', async () => {
    const server = await listening();
    const config = await discover(server);
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid api1.read' });
    const polling = client.pollDeviceAuthorizationGrant(config, authorization).then(
      () => undefined,
      (error: unknown) => error,
    );
    await decideDeviceCode(new FetchBrowser(server.issuer), authorization.verification_uri_complete!, 'deny');
    const error = await polling;
    expect(error).toBeInstanceOf(client.ResponseBodyError);
    expect((error as client.ResponseBodyError).error).toBe('access_denied');
  });

  const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

  function runCli(server: ListeningServer, extra: string[] = []) {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@gatehouse/source',
        '--import',
        'tsx',
        'examples/device-cli/src/main.ts',
        '--issuer',
        server.issuer,
        '--client-id',
        'device-app',
        '--scope',
        fullScope,
        ...extra,
      ],
      { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const output = () => ({ stdout, stderr });
    return { child, exited, output };
  }

  async function waitFor(read: () => string, pattern: RegExp, child: ChildProcess): Promise<RegExpExecArray> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const match = pattern.exec(read());
      if (match) return match;
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${pattern} in output:\n${read()}`);
  }

  it('the example CLI prints the user code, polls while the page is filled, and reports success', async () => {
    const server = await listening();
    const cli = runCli(server);
    try {
      const [, userCode] = await waitFor(() => cli.output().stdout, /\n {4}([B-Z]{4}-[B-Z]{4})\n/, cli.child);
      const [, complete] = await waitFor(
        () => cli.output().stdout,
        /\n {4}(http\S+user_code=\S+)\n/,
        cli.child,
      );
      expect(userCode).toMatch(userCodePattern);
      expect(cli.output().stdout).toContain(`    ${server.issuer}/device\n`);
      expect(complete).toBe(`${server.issuer}/device?user_code=${userCode}`);
      expect(await decideDeviceCode(new FetchBrowser(server.issuer), complete!, 'approve')).toBe(userCode);
      expect(await cli.exited).toBe(0);
      const { stdout } = cli.output();
      const user = await server.ctx.storage.users.findByUsername('alice');
      expect(stdout).toContain('Signed in.');
      expect(stdout).toContain(`subject:        ${user?.id}`);
      expect(stdout).toContain('name:           Alice Smith');
      expect(stdout).toContain(`scope:          ${fullScope}`);
      expect(stdout).toContain('refresh token:  yes');
      // Tokens are credentials: not printed without --show-tokens.
      expect(stdout).not.toMatch(/eyJ[A-Za-z0-9_-]+\./);
      expect(stdout).not.toContain('"access_token"');
    } finally {
      cli.child.kill();
    }
  });

  it('the example CLI reports a denial and exits with status 1', async () => {
    const server = await listening();
    const cli = runCli(server);
    try {
      const [, complete] = await waitFor(
        () => cli.output().stdout,
        /\n {4}(http\S+user_code=\S+)\n/,
        cli.child,
      );
      await decideDeviceCode(new FetchBrowser(server.issuer), complete!, 'deny');
      expect(await cli.exited).toBe(1);
      expect(cli.output().stderr).toContain('Access was denied');
      expect(cli.output().stdout).not.toContain('Signed in.');
    } finally {
      cli.child.kill();
    }
  });
});

describe('a second factor required by policy (issue 17)', () => {
  const mfaAcr = 'urn:gatehouse:acr:mfa';

  /** Approves on the confirmation page; the device's tokens say the session passed a TOTP code. */
  async function approvedAtMfa(
    server: TestServer,
    browser: Browser,
    confirmHtml: string,
    deviceCode: string,
  ) {
    const approved = await decide(browser, confirmHtml, 'approve');
    expect(approved.statusCode).toBe(200);
    server.clock.advance(6);
    const tokens = await poll(server, deviceCode);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string)).toMatchObject({
      acr: mfaAcr,
      amr: ['pwd', 'otp', 'mfa'],
    });
  }

  it('asks a client that requires MFA for the TOTP code before the confirmation; the tokens say mfa', async () => {
    const server = await deviceServer({
      clients: deviceClients.map((entry) =>
        entry.clientId === 'device-app' ? { ...entry, requireMfa: true } : entry,
      ),
    });
    const { secret } = await enrolTotp(server, 'alice');
    const { deviceCode, userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const prompt = await enterCode(browser, entry.body, userCode);
    expect(prompt.statusCode).toBe(200);
    expect(prompt.body).toContain(en['mfa.title']);
    expect(prompt.body).toContain('name="code"');
    const factor = formOf(prompt.body);
    expect(factor.action).toBe(`${issuer}/device/mfa?user_code=${encodeURIComponent(userCode)}`);

    // The confirmation page's decision, posted with the session's form token, is not taken either.
    const early = await browser.post(`${issuer}/device/decision`, {
      csrf: factor.csrf,
      user_code: userCode,
      decision: 'approve',
    });
    expect(early.statusCode).toBe(403);
    expect(early.body).toContain(en['mfa.missing']);
    expectError(await poll(server, deviceCode), 'authorization_pending');

    const right = totpCode(secret, server.clock());
    const wrong = await browser.post(factor.action, {
      csrf: factor.csrf,
      code: right === '000000' ? '111111' : '000000',
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain(en['mfa.invalid']);

    const confirm = await browser.post(factor.action, { csrf: factor.csrf, code: right });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(userCode);
    await approvedAtMfa(server, browser, confirm.body, deviceCode);

    // The stepped-up session goes straight to the confirmation for the next code; a replayed code is refused.
    const next = await issue(server);
    const again = await enterCode(browser, (await browser.get('/device')).body, next.userCode);
    expect(formOf(again.body).action).toBe(`${issuer}/device/decision`);
    const other = new Browser(server);
    const otherPrompt = await enterCode(other, (await signIn(other)).body, next.userCode);
    const replayed = await other.post(formOf(otherPrompt.body).action, {
      csrf: formOf(otherPrompt.body).csrf,
      code: right,
    });
    expect(replayed.statusCode).toBe(401);
  });

  it('answers bad second-factor posts with a page, never a 500', async () => {
    const server = await deviceServer({ mfa: { requireForAll: true } });
    await enrolTotp(server, 'alice');
    const { deviceCode, userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const factor = formOf((await enterCode(browser, entry.body, userCode)).body);
    // Passkeys are off here: the passkey form is neither offered nor taken.
    const passkey = await browser.post(factor.action.replace('/device/mfa', '/device/passkey'), {
      csrf: factor.csrf,
      credential: '{"id":"x"}',
    });
    expect(passkey.statusCode).toBe(400);
    expect(passkey.body).toContain('passkeys are not enabled');
    // No code at all, no user code, another form's token.
    const empty = await browser.post(factor.action, { csrf: factor.csrf });
    expect(empty.statusCode).toBe(401);
    expect(empty.body).toContain(en['mfa.missing']);
    const noUserCode = await browser.post(`${issuer}/device/mfa`, { csrf: factor.csrf, code: '123456' });
    expect(noUserCode.statusCode).toBe(400);
    expect(noUserCode.body).toContain(en['device.missing']);
    const forged = await browser.post(factor.action, { csrf: 'x'.repeat(43), code: '123456' });
    expect(forged.statusCode).toBe(400);
    expect(forged.body).toContain(en['error.deviceFormExpired']);
    expectError(await poll(server, deviceCode), 'authorization_pending');
  });

  it('without MFA policy a password approves, and the tokens say pwd', async () => {
    const server = await deviceServer();
    await enrolTotp(server, 'alice');
    const { deviceCode, userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const confirm = await enterCode(browser, entry.body, userCode);
    expect(formOf(confirm.body).action).toBe(`${issuer}/device/decision`);
    expect((await decide(browser, confirm.body, 'approve')).statusCode).toBe(200);
    server.clock.advance(6);
    const tokens = await poll(server, deviceCode);
    expect(decodeJwt(tokens.body.id_token as string)).toMatchObject({ amr: ['pwd'] });
    expect(decodeJwt(tokens.body.id_token as string).acr).not.toBe(mfaAcr);
  });

  it('asks by role, and sends an account without a factor to /mfa, which says why; then approves', async () => {
    const server = await deviceServer({ mfa: { requireForRoles: ['OrderAdmin'] } });
    const { deviceCode, userCode } = await issue(server);
    const { browser, entry } = await signedInBrowser(server);
    const sent = await enterCode(browser, entry.body, userCode);
    expect(sent.statusCode).toBe(303);
    expect(sent.headers.location).toBe(`${issuer}/mfa?needed=link`);
    expectError(await poll(server, deviceCode), 'authorization_pending');
    for (const [language, catalogue] of [
      ['en', en],
      ['de', de],
      ['fr', fr],
      ['es', es],
    ] as const) {
      const page = await browser.get('/mfa?needed=link', { 'accept-language': language });
      expect(page.body).toContain(escapeHtml(catalogue['mfa.account.neededForLink']));
    }

    // Enrol an authenticator at /mfa with the same session: it is then at the mfa level.
    const mfa = await browser.get('/mfa?needed=link');
    const setUp = formOf(mfa.body);
    const enrolment = await browser.post(setUp.action, { csrf: setUp.csrf });
    const secret = (/<code id="totp-secret">([^<]+)<\/code>/.exec(enrolment.body)?.[1] ?? '').replace(
      /\s/g,
      '',
    );
    const confirmForm = formOf(enrolment.body);
    const confirmed = await browser.post(confirmForm.action, {
      csrf: confirmForm.csrf,
      code: totpCode(secret, server.clock()),
    });
    expect(confirmed.statusCode).toBe(200);
    expect((await browser.get('/mfa?needed=link')).body).not.toContain(en['mfa.account.neededForLink']);

    const confirmAgain = await enterCode(browser, (await browser.get('/device')).body, userCode);
    await approvedAtMfa(server, browser, confirmAgain.body, deviceCode);
  });
});
