/**
 * Interop test helpers: the server listening on a real loopback port (issuer = the listening URL), a
 * small browser over real fetch (cookie jar, redirects handled by hand) that walks the login and consent
 * pages the way a user agent would, stopping at the redirect back to the client, and a receiver of
 * back-channel logouts (a real node:http server).
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import * as client from 'openid-client';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { parseConfig } from '../src/config/load.ts';
import type { GatehouseConfig } from '../src/config/schema.ts';
import {
  buildServer,
  form,
  formOf,
  formType,
  type GatehouseServer,
  password,
  serviceAuth,
  testConfig,
  webSecret,
} from './helpers.ts';

/** A port that was free a moment ago (bind to port 0, read the port, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      if (address === null || typeof address === 'string') {
        probe.close();
        reject(new Error('no port'));
        return;
      }
      probe.close(() => resolve(address.port));
    });
  });
}

/** service-a's client-credentials request for orders.read, sent to `issuer`'s token endpoint over real HTTP. */
export function fetchClientCredentials(issuer: string): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: serviceAuth, 'content-type': formType },
    body: form({ grant_type: 'client_credentials', scope: 'orders.read' }),
  });
}

/** openid-client's configuration of web-app (client_secret_basic), discovered at `issuer` over plain HTTP. */
export function discoverWebApp(issuer: string): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), 'web-app', webSecret, client.ClientSecretBasic(webSecret), {
    execute: [client.allowInsecureRequests],
  });
}

export interface ListeningServer extends GatehouseServer {
  issuer: string;
  config: GatehouseConfig;
  /** What `listen()` reported as the bound address. */
  address: string;
}

/**
 * Builds the test configuration with issuer http://127.0.0.1:<port> and listens on that port (`port`, when
 * another server must know the issuer first, else a free one).
 */
export async function startListening(
  overrides: Record<string, unknown> = {},
  port?: number,
): Promise<ListeningServer> {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = parseConfig(testConfig({ issuer, server: { host: '127.0.0.1', port }, ...overrides }));
  const server = await buildServer(config);
  try {
    const address = await server.listen();
    return Object.assign(server, { issuer, config, address });
  } catch (error) {
    await server.close();
    throw error;
  }
}

/** A fresh PKCE verifier, state and nonce (openid-client), and the authorization parameters carrying them. */
export async function authorizationParameters(redirectUri: string, scope: string) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters: Record<string, string> = {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  return { verifier, state, nonce, parameters };
}

export interface Received {
  path: string;
  contentType: string | undefined;
  body: URLSearchParams;
  response: ServerResponse;
}

/** A back-channel logout receiver: a real node:http server on 127.0.0.1. */
export class Receiver {
  readonly received: Received[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  private server: Server | undefined;
  url = '';

  /** `respond` answers request number `index` (0-based); leaving `response` open makes the receiver hang. */
  constructor(private readonly respond: (index: number, received: Received) => void) {}

  async start(): Promise<this> {
    this.server = createHttpServer((request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const entry: Received = {
          path: request.url ?? '',
          contentType: request.headers['content-type'],
          body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
          response,
        };
        this.received.push(entry);
        this.respond(this.received.length - 1, entry);
        this.waiters = this.waiters.filter((waiter) => {
          if (this.received.length < waiter.count) return true;
          waiter.resolve();
          return false;
        });
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves once `count` requests have arrived. */
  requests(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export type PageKind = 'login' | 'consent' | 'second-factor' | 'recovery-codes';

export interface WalkOptions {
  user?: { username: string; password: string };
  decision?: 'allow' | 'deny';
  /** The fields of a second-factor form (`/mfa` or `/enrol`) for its page's HTML: a TOTP code. */
  secondFactor?: (html: string) => Record<string, string>;
}

export interface WalkResult {
  /** The Location of the final redirect, pointing at the client's redirect URI. */
  location: string;
  /** The pages the user was shown, in order. */
  pages: PageKind[];
}

/**
 * Keeps the cookies of `response`'s Set-Cookie lines in `cookies` (names and values only), as a user agent
 * does: a cookie set with Max-Age=0 or an empty value is removed.
 */
export function keepCookies(cookies: Map<string, string>, response: Response): void {
  for (const line of response.headers.getSetCookie()) {
    const [pair = ''] = line.split(';');
    const separator = pair.indexOf('=');
    const name = pair.slice(0, separator).trim();
    const value = pair.slice(separator + 1).trim();
    if (/;\s*Max-Age=0(;|$)/i.test(line) || value === '') cookies.delete(name);
    else cookies.set(name, value);
  }
}

/** A user agent over real HTTP: a cookie jar and manual redirects. */
export class FetchBrowser {
  readonly cookies = new Map<string, string>();

  /** `send` is the fetch to use (e.g. one that trusts a test CA); the global fetch by default. */
  constructor(
    private readonly issuer: string,
    private readonly send: typeof fetch = fetch,
  ) {}

  private store(response: Response): void {
    keepCookies(this.cookies, response);
  }

  private cookieHeader(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }

  async get(url: string): Promise<Response> {
    const response = await this.send(url, { redirect: 'manual', headers: this.cookieHeader() });
    this.store(response);
    return response;
  }

  async post(url: string, values: Record<string, string>): Promise<Response> {
    const response = await this.send(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(values).toString(),
    });
    this.store(response);
    return response;
  }

  /**
   * Opens an authorization URL and follows it through the server's pages: redirects inside the issuer are
   * followed, the login form is filled in with `user`, the consent form answered with `decision`. Stops at
   * the first redirect that leaves the issuer and returns its Location.
   */
  async walk(authorizationUrl: string | URL, options: WalkOptions = {}): Promise<WalkResult> {
    const user = options.user ?? { username: 'alice', password };
    const decision = options.decision ?? 'allow';
    const pages: PageKind[] = [];
    let response = await this.get(String(authorizationUrl));
    for (let step = 0; step < 10; step++) {
      if (response.status === 303 || response.status === 302) {
        const location = response.headers.get('location');
        if (location === null) throw new Error(`redirect ${response.status} without a Location`);
        if (!location.startsWith(`${this.issuer}/`)) return { location, pages };
        response = await this.get(location);
        continue;
      }
      const html = await response.text();
      if (response.status !== 200)
        throw new Error(`server answered ${response.status}: ${html.slice(0, 300)}`);
      // The recovery codes shown after an enrolment: continue by their link.
      const next = /<ul id="recovery-codes">[\s\S]*<a class="back" href="([^"]+)"/.exec(html)?.[1];
      if (next !== undefined) {
        pages.push('recovery-codes');
        response = await this.get(next.replace(/&amp;/g, '&'));
        continue;
      }
      const form = formOf(html);
      if (form.action.endsWith('/login')) {
        pages.push('login');
        response = await this.post(form.action, { csrf: form.csrf, ...user });
      } else if (
        (form.action.endsWith('/mfa') || form.action.endsWith('/enrol')) &&
        options.secondFactor !== undefined
      ) {
        pages.push('second-factor');
        response = await this.post(form.action, { csrf: form.csrf, ...options.secondFactor(html) });
      } else if (form.action.endsWith('/consent')) {
        pages.push('consent');
        response = await this.post(form.action, { csrf: form.csrf, decision });
      } else {
        throw new Error(`unexpected form action ${form.action}`);
      }
    }
    throw new Error('too many steps without reaching the client');
  }
}

/**
 * A user decides a device code on the verification pages over real HTTP (RFC 8628 §3.3): opens the complete
 * verification URI, signs in as `username` unless `browser` holds a session already, submits the pre-filled
 * user code and answers `decision`. Returns the user code.
 */
export async function decideDeviceCode(
  browser: FetchBrowser,
  verificationUriComplete: string,
  decision: 'approve' | 'deny' = 'approve',
  username = 'alice',
): Promise<string> {
  let response = await browser.get(verificationUriComplete);
  let html = await response.text();
  let form = formOf(html);
  if (form.action.endsWith('/device/login')) {
    const kept = /name="user_code" value="([^"]*)"/.exec(html)?.[1] ?? '';
    response = await browser.post(form.action, { csrf: form.csrf, username, password, user_code: kept });
    if (response.status !== 303) throw new Error(`device sign-in answered ${response.status}`);
    response = await browser.get(new URL(response.headers.get('location')!, verificationUriComplete).href);
    html = await response.text();
    form = formOf(html);
  }
  const userCode = /id="user_code"[^>]* value="([^"]*)"/.exec(html)?.[1];
  if (!userCode) throw new Error('the user code was not pre-filled');
  response = await browser.post(form.action, { csrf: form.csrf, user_code: userCode });
  html = await response.text();
  if (response.status !== 200)
    throw new Error(`code entry answered ${response.status}: ${html.slice(0, 300)}`);
  form = formOf(html);
  response = await browser.post(form.action, { csrf: form.csrf, user_code: userCode, decision });
  await response.text();
  if (response.status !== 200) throw new Error(`decision answered ${response.status}`);
  return userCode;
}

/** How long a browser test waits for a page: the browser waits for the app, as a busy machine slows Chromium. */
export const patience = { timeout: 30_000 };

/** Closes, in order, each of `resources` that was opened: for afterAll hooks after a beforeAll that may fail. */
export async function closeAll(...resources: ({ close(): Promise<unknown> } | undefined)[]): Promise<void> {
  for (const resource of resources) await resource?.close();
}

/** A client's site for the browser tests: answers every request (the redirect back) with 200. */
export async function callbackSite(port: number): Promise<{ close(): Promise<void> }> {
  const site = createHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('client callback');
  });
  await new Promise<void>((resolve) => site.listen(port, '127.0.0.1', resolve));
  return { close: () => new Promise<void>((resolve) => site.close(() => resolve())) };
}

export interface Driven {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
}

/** A page of a fresh context with a virtual platform authenticator that verifies its user. */
export async function pageWithAuthenticator(browser: Browser): Promise<Driven> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, cdp, authenticatorId };
}
