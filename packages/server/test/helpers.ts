/**
 * Test helpers: a real server on a fresh SQLite file per server, a controllable clock, and a small browser
 * (cookie jar + form posting) that walks the login and consent pages over HTTP the way a user would.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { totpCode } from '../src/authn/totp.ts';
import { parseConfig } from '../src/config/load.ts';
import type { GatehouseConfig } from '../src/config/schema.ts';
import type { WebAuthnCredentialRecord } from '../src/model.ts';
import { buildServer, type GatehouseServer } from '../src/server.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../src/sessions/mfa.ts';
import { databaseOf } from '../src/storage/testing.ts';

export { buildServer, type GatehouseServer, parseConfig };

export const issuer = 'http://localhost:3000';
export const webSecret = 'web-app-test-secret-0123456789-abcdefghijklmnop';
export const serviceSecret = 'service-a-test-secret-0123456789-abcdefghijklmn';
export const apiSecret = 'orders-api-test-secret-0123456789-abcdefghijklm';
export const password = 'correct horse battery staple';
export const webRedirect = 'https://webapp.example.com/signin-oidc';

/** The grant types (RFC 8628, CIBA Core, RFC 8693) and token types (RFC 8693 §3) the tests send. */
export const deviceGrant = 'urn:ietf:params:oauth:grant-type:device_code';
export const cibaGrant = 'urn:openid:params:grant-type:ciba';
export const exchangeGrant = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';
export const idTokenType = 'urn:ietf:params:oauth:token-type:id_token';

/** The seed-shaped configuration the tests run against. */
export function testConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer,
    storage: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-test-')), 'test.db') },
    logging: { level: 'silent' },
    // A port of the system's choosing: test servers run side by side.
    management: { port: 0 },
    apiScopes: [
      { name: 'orders.read', description: 'Read your orders' },
      { name: 'orders.write', description: 'Change your orders' },
      { name: 'api1.read', description: 'Read API 1' },
    ],
    apiResources: testApiResources(),
    identityResources: [
      { name: 'openid', description: 'Sign you in', claims: ['sub'] },
      { name: 'profile', description: 'Your profile', claims: ['name', 'preferred_username'] },
      { name: 'email', description: 'Your email address', claims: ['email', 'email_verified'] },
      { name: 'offline_access', description: 'Stay signed in', claims: [] },
      { name: 'roles', description: 'Your roles', claims: ['roles'] },
    ],
    clients: testClients(),
    users: [
      {
        username: 'alice',
        password,
        roles: ['OrderAdmin'],
        claims: { name: 'Alice Smith', email: 'alice@example.com', email_verified: true },
      },
      { username: 'bob', password, claims: { name: 'Bob Jones' } },
    ],
    ...overrides,
  };
}

/** The seed clients of testConfig(), with per-client changes (keyed by clientId) merged in. */
export function testClients(
  changes: Record<string, Record<string, unknown>> = {},
): Record<string, unknown>[] {
  const clients: Record<string, unknown>[] = [
    {
      clientId: 'web-app',
      name: 'Web Application',
      secret: webSecret,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [webRedirect, 'http://localhost:5000/signin-oidc'],
      scopes: [
        'openid',
        'profile',
        'email',
        'roles',
        'offline_access',
        'orders.read',
        'orders.write',
        'api1.read',
      ],
    },
    {
      clientId: 'native-app',
      name: 'Native App',
      tokenEndpointAuthMethod: 'none',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [
        'com.example.nativeapp://callback',
        'http://127.0.0.1/callback',
        'http://[::1]/callback',
      ],
      scopes: ['openid', 'profile', 'offline_access', 'api1.read'],
    },
    {
      clientId: 'post-app',
      name: 'Post App',
      secret: webSecret,
      tokenEndpointAuthMethod: 'client_secret_post',
      grantTypes: ['authorization_code', 'client_credentials'],
      redirectUris: ['https://post.example.com/cb'],
      scopes: ['openid', 'orders.read'],
      requireConsent: false,
    },
    {
      clientId: 'service-a',
      name: 'Service A',
      secret: serviceSecret,
      grantTypes: ['client_credentials'],
      scopes: ['orders.read'],
      requireConsent: false,
    },
  ];
  return clients.map((client) => ({ ...client, ...changes[client.clientId as string] }));
}

/** The seed APIs of testConfig(), with per-API changes (keyed by id) merged in. */
export function testApiResources(
  changes: Record<string, Record<string, unknown>> = {},
): Record<string, unknown>[] {
  const apis: Record<string, unknown>[] = [
    {
      id: 'orders-api',
      uris: ['https://api.example.com/orders'],
      scopes: ['orders.read', 'orders.write'],
      secret: apiSecret,
    },
    { id: 'api1', uris: ['https://api1.example.com'], scopes: ['api1.read'] },
  ];
  return apis.map((api) => ({ ...api, ...changes[api.id as string] }));
}

/** The seed APIs, with api1 issuing opaque tokens and holding a secret of its own for introspection. */
export function opaqueApiResources(): Record<string, unknown>[] {
  return testApiResources({ api1: { accessTokenFormat: 'opaque', secret: `${apiSecret}-api1` } });
}

export interface TestClock {
  (): number;
  advance(seconds: number): void;
}

export function testClock(start = Math.floor(Date.now() / 1000)): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.advance = (seconds: number) => {
    now += seconds;
  };
  return clock;
}

export interface TestServer extends GatehouseServer {
  clock: TestClock;
  config: GatehouseConfig;
}

/**
 * Gives `username` a confirmed TOTP authenticator (sessions/mfa.ts) with a code computed here, then moves
 * the clock to the next time step (the enrolment's code counts as used). Returns the secret and the
 * recovery codes.
 */
export async function enrolTotp(server: TestServer, username: string) {
  const account = await server.ctx.accounts.findByUsername(username);
  if (account === undefined) throw new Error(`no account ${username}`);
  const { secret } = await startTotpEnrolment(server.ctx, account);
  const code = totpCode(secret, server.clock());
  const confirmed = await confirmTotpEnrolment(server.ctx, account, code, undefined);
  if (!confirmed.ok) throw new Error('enrolment failed');
  server.clock.advance(30);
  return { secret, recoveryCodes: confirmed.recoveryCodes };
}

export async function startServer(
  overrides: Record<string, unknown> = {},
  options: { logStream?: NodeJS.WritableStream } = {},
): Promise<TestServer> {
  const config = parseConfig(testConfig(overrides));
  const clock = testClock();
  const server = await buildServer(config, { clock, ...options });
  return Object.assign(server, { clock, config });
}

export type ServerOverrides = Record<string, unknown>;

/**
 * The server a test file (or, with `each`, every test) runs against: started before and closed after by
 * vitest hooks registered where this is called. `overrides` may be a function, called when the server
 * starts, for settings known only then (a port opened by an earlier hook).
 */
export function useServer(
  overrides: ServerOverrides | (() => ServerOverrides | Promise<ServerOverrides>) = {},
  options: { each?: boolean; logStream?: NodeJS.WritableStream } = {},
): TestServer {
  let current: TestServer | undefined;
  const [before, after] = options.each ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    const settings = typeof overrides === 'function' ? await overrides() : overrides;
    current = await startServer(settings, options.logStream ? { logStream: options.logStream } : {});
  });
  after(async () => {
    await current?.close();
    current = undefined;
  });
  return new Proxy({} as TestServer, {
    get(_target, property) {
      if (current === undefined) throw new Error('the server of useServer() exists only while a test runs');
      return Reflect.get(current, property, current);
    },
  });
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** The Basic Authorization headers (RFC 6749 §2.3.1) of web-app, service-a and the orders API. */
export const webAppAuth = basic('web-app', webSecret);
export const serviceAuth = basic('service-a', serviceSecret);
export const ordersApiAuth = basic('orders-api', apiSecret);

export function form(values: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined) params.append(name, value);
  return params.toString();
}

/**
 * A cookie jar that follows our Set-Cookie headers, for driving the pages through inject(); `remoteAddress`
 * is the address its requests come from (inject's default, 127.0.0.1, when not given).
 */
export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly server: GatehouseServer,
    private readonly remoteAddress?: string,
  ) {}

  private from(): { remoteAddress?: string } {
    return this.remoteAddress === undefined ? {} : { remoteAddress: this.remoteAddress };
  }

  private store(response: LightMyRequestResponse): void {
    const header = response.headers['set-cookie'];
    for (const line of Array.isArray(header) ? header : header ? [header] : []) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=');
      if (/Max-Age=0/.test(line)) this.cookies.delete(name!);
      else this.cookies.set(name!, value!);
    }
  }

  private cookieHeader(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const response = await this.server.app.inject({
      method: 'GET',
      url: url.replace(issuer, ''),
      headers: { ...headers, ...this.cookieHeader() },
      ...this.from(),
    });
    this.store(response);
    return response;
  }

  async post(url: string, values: Record<string, string | undefined>): Promise<LightMyRequestResponse> {
    const response = await this.server.app.inject({
      method: 'POST',
      url: url.replace(issuer, ''),
      headers: { ...this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: form(values),
      ...this.from(),
    });
    this.store(response);
    return response;
  }
}

/** Reads the form action and CSRF token out of a rendered page. */
export function formOf(html: string): { action: string; csrf: string } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !csrf) throw new Error(`no form in page: ${html.slice(0, 200)}`);
  return { action: action.replace(/&amp;/g, '&'), csrf };
}

export function authorizeUrl(params: Record<string, string | undefined>): string {
  return `/authorize?${form(params)}`;
}

export interface AuthorizeParams {
  clientId?: string;
  redirectUri?: string;
  scope?: string;
  state?: string;
  nonce?: string;
  challenge?: string;
  /** Who signs in on the login page (alice by default). */
  user?: { username: string; password: string };
  /** Added or replaced parameters; `undefined` removes one. */
  extra?: Record<string, string | undefined>;
}

export function codeRequest(pkce: { challenge: string }, params: AuthorizeParams = {}): string {
  return authorizeUrl(codeParams(pkce, params));
}

/** The parameters of a code request with PKCE (web-app unless `params` says otherwise). */
export function codeParams(
  pkce: { challenge: string },
  params: AuthorizeParams = {},
): Record<string, string | undefined> {
  return {
    response_type: 'code',
    client_id: params.clientId ?? 'web-app',
    redirect_uri: params.redirectUri ?? webRedirect,
    scope: params.scope ?? 'openid profile offline_access orders.read',
    state: params.state ?? 'state-123',
    nonce: params.nonce ?? 'nonce-456',
    code_challenge: params.challenge ?? pkce.challenge,
    code_challenge_method: 'S256',
    ...params.extra,
  };
}

/** The smallest pushed authorization request of web-app (RFC 9126 §2.1): openid with PKCE, no state or nonce. */
export function minimalPushedParams(): Record<string, string> {
  return {
    response_type: 'code',
    client_id: 'web-app',
    redirect_uri: webRedirect,
    scope: 'openid',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
  };
}

/** A new browser at the login page of a code request (web-app unless `params` says otherwise), and its form. */
export async function loginPage(server: GatehouseServer, params: AuthorizeParams = {}) {
  const browser = new Browser(server);
  const started = await browser.get(codeRequest(pkcePair(), params));
  const page = await browser.get(started.headers.location as string);
  return { browser, page, form: formOf(page.body) };
}

/**
 * Runs /authorize through login (and consent when shown) and returns the redirect back to the client.
 */
export async function authorizeThroughLogin(
  browser: Browser,
  url: string,
  user: { username: string; password: string } = { username: 'alice', password },
): Promise<URL> {
  let response = await browser.get(url);
  if (response.statusCode !== 303)
    throw new Error(`authorize answered ${response.statusCode}: ${response.body}`);
  let location = response.headers.location as string;
  if (location.startsWith(`${issuer}/interaction/`)) {
    response = await browser.get(location);
    const login = formOf(response.body);
    if (login.action.endsWith('/login')) {
      response = await browser.post(login.action, { csrf: login.csrf, ...user });
      if (response.statusCode !== 303) throw new Error(`login answered ${response.statusCode}`);
      location = response.headers.location as string;
    } else {
      location = url;
    }
    if (location.startsWith(`${issuer}/interaction/`)) {
      response = await browser.get(location);
      const consent = formOf(response.body);
      response = await browser.post(consent.action, { csrf: consent.csrf, decision: 'allow' });
      location = response.headers.location as string;
    } else if (response.statusCode === 200) {
      const consent = formOf(response.body);
      response = await browser.post(consent.action, { csrf: consent.csrf, decision: 'allow' });
      location = response.headers.location as string;
    }
  }
  return new URL(location);
}

/**
 * POSTs a form through inject() to `url` (absolute under the issuer or a path); headers left undefined are
 * not sent; `remoteAddress` is the address it comes from (127.0.0.1 by default). `text` is the answer's body
 * as sent; reading `body` parses it as JSON and throws (failing the test) when it is not JSON, an empty body
 * included.
 */
export async function postForm(
  server: GatehouseServer,
  url: string,
  values: Record<string, string | undefined>,
  headers: Record<string, string | string[] | undefined> = {},
  remoteAddress?: string,
) {
  const sent: Record<string, string | string[]> = { 'content-type': 'application/x-www-form-urlencoded' };
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) sent[name] = value;
  const response = await server.app.inject({
    method: 'POST',
    url: url.replace(issuer, ''),
    headers: sent,
    payload: form(values),
    ...(remoteAddress === undefined ? {} : { remoteAddress }),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: response.body,
    get body(): Record<string, unknown> {
      return JSON.parse(response.body) as Record<string, unknown>;
    },
  };
}

/** POSTs `payload` exactly as given, for tests of content types and malformed bodies; the raw response. */
export function postRaw(
  server: GatehouseServer,
  url: string,
  headers: Record<string, string>,
  payload: string,
): Promise<LightMyRequestResponse> {
  return server.app.inject({ method: 'POST', url, headers, payload });
}

export const formType = 'application/x-www-form-urlencoded';

/** POSTs a JSON body (which OAuth endpoints refuse: they take forms), authenticated with `authorization`. */
export function postJson(server: GatehouseServer, url: string, authorization: string, payload = '{}') {
  return postRaw(server, url, { 'content-type': 'application/json', authorization }, payload);
}

/** RFC 7662 introspection of `token`, authenticated as `authorization` (the orders API by default). */
export function introspectToken(server: GatehouseServer, token: string, authorization = ordersApiAuth) {
  return postForm(server, '/introspect', { token }, { authorization });
}

export function tokenRequest(
  server: GatehouseServer,
  values: Record<string, string | undefined>,
  authorization?: string,
) {
  return postForm(server, '/token', values, { authorization });
}

/** service-a's client-credentials token request (RFC 6749 §4.4), with `values` added (a scope, a resource). */
export function serviceTokenRequest(
  server: GatehouseServer,
  values: Record<string, string | undefined> = {},
) {
  return tokenRequest(
    server,
    { grant_type: 'client_credentials', ...values },
    basic('service-a', serviceSecret),
  );
}

/** web-app's refresh_token grant (RFC 6749 §6) for `refreshToken`, with `values` added (a narrower scope). */
export function refreshRequest(
  server: GatehouseServer,
  refreshToken: string,
  values: Record<string, string | undefined> = {},
) {
  return tokenRequest(
    server,
    { grant_type: 'refresh_token', refresh_token: refreshToken, ...values },
    webAppAuth,
  );
}

/** Runs /authorize through login and consent in a new browser (web-app unless `params` says otherwise). */
export async function authorizationCode(server: GatehouseServer, params: AuthorizeParams = {}) {
  const browser = new Browser(server);
  const pkce = pkcePair();
  const redirect = await authorizeThroughLogin(browser, codeRequest(pkce, params), params.user);
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code: ${redirect}`);
  return { browser, pkce, redirect, code };
}

/**
 * A full code flow (web-app unless `params` names another client); the code is redeemed with `headers`
 * (web-app's Basic credentials by default; add a DPoP proof here). Without an authorization header the
 * client is public and sends its client_id in the body (RFC 6749 §4.1.3). Returns the token response.
 */
export async function codeFlowTokens(
  server: GatehouseServer,
  params: AuthorizeParams = {},
  headers: Record<string, string | undefined> = { authorization: webAppAuth },
) {
  const { browser, pkce, redirect, code } = await authorizationCode(server, params);
  const tokens = await redeemCode(server, code, pkce.verifier, params, headers);
  return { browser, pkce, redirect, code, tokens };
}

/**
 * Redeems an authorization code at /token (RFC 6749 §4.1.3) with its PKCE verifier, for web-app and its
 * redirect URI unless `params` says otherwise; `headers` as in codeFlowTokens.
 */
export function redeemCode(
  server: GatehouseServer,
  code: string,
  verifier: string,
  params: Pick<AuthorizeParams, 'clientId' | 'redirectUri'> = {},
  headers: Record<string, string | undefined> = { authorization: webAppAuth },
) {
  return postForm(
    server,
    '/token',
    {
      grant_type: 'authorization_code',
      ...(headers.authorization === undefined ? { client_id: params.clientId ?? 'web-app' } : {}),
      code,
      redirect_uri: params.redirectUri ?? webRedirect,
      code_verifier: verifier,
    },
    headers,
  );
}

type CountedTable = 'authorization_codes' | 'interactions' | 'sessions' | 'consents';

/** The number of rows in each table, under the names given in `tables`. */
export async function rowCounts<Name extends string>(
  server: GatehouseServer,
  tables: Record<Name, CountedTable>,
): Promise<Record<Name, number>> {
  const db = databaseOf(server.ctx.storage);
  const counts = {} as Record<Name, number>;
  for (const [name, table] of Object.entries(tables) as [Name, CountedTable][])
    counts[name] = (await db.selectFrom(table).selectAll().execute()).length;
  return counts;
}

/** Runs `send` and checks that the row counts of `tables` are the same afterwards; returns what it returned. */
export async function unchangedRows<Name extends string, Result>(
  server: GatehouseServer,
  tables: Record<Name, CountedTable>,
  send: () => Promise<Result>,
): Promise<Result> {
  const before = await rowCounts(server, tables);
  const result = await send();
  expect(await rowCounts(server, tables)).toEqual(before);
  return result;
}

/** The token with one character of its signature changed (always a different signature, never the same). */
export function tamperSignature(token: string): string {
  const signatureStart = token.lastIndexOf('.') + 1;
  const replacement = token[signatureStart] === 'A' ? 'B' : 'A';
  return `${token.slice(0, signatureStart)}${replacement}${token.slice(signatureStart + 1)}`;
}

/** A log destination for a test server that keeps every written line (JSON lines, split and non-empty). */
export function logCapture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

/**
 * A WebAuthn credential as a registration stores it (sessions/webauthn.ts), for seeding a store; the
 * ceremonies themselves run in Chromium in passkeys-browser.test.ts.
 */
export function storedPasskey(
  credentialId: string,
  userId: string,
  changes: Partial<WebAuthnCredentialRecord> = {},
): WebAuthnCredentialRecord {
  return {
    credentialId,
    userId,
    publicKey: 'pQECAyYgASFYIA',
    counter: 0,
    transports: ['usb'],
    backupEligible: false,
    backupState: false,
    discoverable: false,
    nickname: credentialId,
    createdAt: 1_700_000_000,
    lastUsedAt: null,
    ...changes,
  };
}
