/**
 * Test support for upstream identity providers: a hand-made OpenID provider (discovery, JWKS and a token
 * endpoint on a loopback port, signed with jose) whose token endpoint answers with whatever ID token the
 * test asks for, so that each test can break one rule or say what it likes about `amr` and `email`.
 */
import { createServer, type Server } from 'node:http';
import { type CryptoKey, decodeJwt, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { expect } from 'vitest';
import {
  type Browser,
  codeRequest,
  formOf,
  type GatehouseServer,
  issuer,
  pkcePair,
  redeemCode,
  rowCounts,
  type TestServer,
  webAppAuth,
  webRedirect,
} from './helpers.ts';
import { freePort } from './interop-helpers.ts';

/** Gatehouse's secret as a client of oidc-provider (gatehouseAtProvider). */
export const upstreamSecret = 'gatehouse-at-upstream-secret-0123456789-abcdef';

/** Gatehouse registered at oidc-provider (its `extraClients`), with the callback of each upstream in `ids`. */
export function gatehouseAtProvider(ids: string[]): Record<string, unknown> {
  return {
    client_id: 'gatehouse',
    client_secret: upstreamSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ids.map((id) => `${issuer}/upstream/${id}/callback`),
  };
}

/** A hand-made OpenID provider whose token endpoint answers with whatever ID token the test asks for. */
export interface HostileUpstream {
  issuer: string;
  /** Signs the next token response's ID token: the claims given, with `key` (the published one by default). */
  nextIdToken(claims: JWTPayload, key?: CryptoKey): void;
  close(): Promise<void>;
}

export async function startHostileUpstream(): Promise<HostileUpstream> {
  const port = await freePort();
  const upstreamIssuer = `http://127.0.0.1:${port}`;
  const published = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(published.publicKey)), kid: 'published', alg: 'ES256', use: 'sig' };
  let next: Promise<string> | undefined;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (path === '/.well-known/openid-configuration') {
      json(200, {
        issuer: upstreamIssuer,
        authorization_endpoint: `${upstreamIssuer}/authorize`,
        token_endpoint: `${upstreamIssuer}/token`,
        jwks_uri: `${upstreamIssuer}/jwks`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
      });
    } else if (path === '/jwks') {
      json(200, { keys: [publicJwk] });
    } else if (path === '/token' && request.method === 'POST') {
      request.resume();
      request.once('end', () => {
        const idToken = next;
        next = undefined;
        if (idToken === undefined) json(400, { error: 'invalid_grant' });
        else
          void idToken.then((token) =>
            json(200, { access_token: 'upstream-at', token_type: 'Bearer', id_token: token }),
          );
      });
    } else {
      json(404, { error: 'not_found' });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer: upstreamIssuer,
    nextIdToken(claims, key = published.privateKey) {
      const kid = key === published.privateKey ? 'published' : 'unknown';
      next = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Starts an authorization at web-app (or `clientId`) in `browser`; returns the interaction page. */
export async function interactionPage(
  browser: Browser,
  extra: Record<string, string> = {},
  clientId = 'web-app',
) {
  const redirectUri = clientId === 'web-app' ? webRedirect : 'https://post.example.com/cb';
  const scope = clientId === 'web-app' ? 'openid profile' : 'openid';
  const authorize = await browser.get(codeRequest(pkcePair(), { clientId, redirectUri, scope, extra }));
  expect(authorize.statusCode).toBe(303);
  return browser.get(authorize.headers.location as string);
}

/** The chooser button of `upstreamId` on a login page: its form's action. */
export function buttonAction(html: string, upstreamId: string): string | undefined {
  return new RegExp(`<form method="post" action="([^"]*/upstream/${upstreamId})"`).exec(html)?.[1];
}

/** Presses the chooser button of `upstreamId`; returns where Gatehouse sends the browser. */
export async function pressButton(
  browser: Browser,
  upstreamId: string,
  extra: Record<string, string> = {},
): Promise<URL> {
  const page = await interactionPage(browser, extra);
  const action = buttonAction(page.body, upstreamId);
  expect(action).toBeDefined();
  const response = await browser.post(action!, { csrf: formOf(page.body).csrf });
  expect(response.statusCode).toBe(303);
  return new URL(response.headers.location as string);
}

/** Sends the browser to the upstream's callback with `params`. */
export function callback(browser: Browser, upstreamId: string, params: Record<string, string>) {
  return browser.get(`${issuer}/upstream/${upstreamId}/callback?${new URLSearchParams(params)}`);
}

/**
 * The steps of an upstream sign-in that need `server` or the hostile upstream, for the tests of a file
 * whose server and hostile upstream start in a hook: hence the getters.
 */
export function upstreamDriver(serverOf: () => TestServer, hostileOf: () => HostileUpstream) {
  const sessionCount = async () => (await rowCounts(serverOf(), { sessions: 'sessions' })).sessions;

  /** A refused callback: an HTML error page with `message`, no session cookie and no new session. */
  async function expectRefused(
    send: () => Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>,
    message: RegExp,
  ) {
    const before = await sessionCount();
    const response = await send();
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toMatch(message);
    expect(String(response.headers['set-cookie'] ?? '')).not.toContain('__Host-gh-session');
    expect(await sessionCount()).toBe(before);
  }

  /** Claims of a valid ID token from the hostile upstream for the sign-in that sent `nonce`, at the server's time. */
  function validClaims(nonce: string, sub = 'rogue-user'): JWTPayload {
    const now = serverOf().clock();
    return {
      iss: hostileOf().issuer,
      aud: 'gatehouse',
      sub,
      nonce,
      iat: now,
      exp: now + 300,
      name: 'Rogue User',
    };
  }

  /** Presses the rogue (or `upstreamId`) button and returns the state and nonce sent upstream. */
  async function startAtHostile(browser: Browser, upstreamId = 'rogue', extra: Record<string, string> = {}) {
    const location = await pressButton(browser, upstreamId, extra);
    expect(location.origin).toBe(hostileOf().issuer);
    return { state: location.searchParams.get('state')!, nonce: location.searchParams.get('nonce')! };
  }

  return { sessionCount, expectRefused, validClaims, startAtHostile };
}

/**
 * Finishes a web-app sign-in from `location` (the consent page, allowed, when the sign-in led there; else
 * the redirect with the code), redeems the code with `verifier`, and returns the decoded ID token.
 */
export async function webAppIdToken(
  server: GatehouseServer,
  browser: Browser,
  location: string,
  verifier: string,
): Promise<JWTPayload> {
  let redirect = location;
  if (redirect.startsWith(`${issuer}/interaction/`)) {
    const consent = formOf((await browser.get(redirect)).body);
    expect(consent.action).toMatch(/\/consent$/);
    redirect = (await browser.post(consent.action, { csrf: consent.csrf, decision: 'allow' })).headers
      .location as string;
  }
  const code = new URL(redirect).searchParams.get('code');
  expect(code).toBeTypeOf('string');
  const tokens = await redeemCode(server, code!, verifier);
  expect(tokens.status).toBe(200);
  return decodeJwt(tokens.body.id_token as string);
}

/** Redeems web-app's `code` at a listening server's token endpoint over real HTTP; returns its tokens. */
export async function redeemWebAppCode(
  issuerUrl: string,
  code: string,
  verifier: string,
): Promise<{ id_token: string; access_token: string }> {
  const response = await fetch(`${issuerUrl}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: webAppAuth,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: webRedirect,
      code_verifier: verifier,
    }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { id_token: string; access_token: string };
}

/**
 * A web-app authorization request (code, PKCE S256, `openid profile`) at a listening server, with `extra`
 * added or replacing those (a scope, a state).
 */
export function webAppAuthorization(issuerUrl: string, extra: Record<string, string> = {}) {
  const pkce = pkcePair();
  const url = new URL(`${issuerUrl}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: 'web-app',
    redirect_uri: webRedirect,
    scope: 'openid profile',
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return { pkce, url };
}
