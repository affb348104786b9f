/**
 * GET and POST /authorize: which requests are refused with an HTML page (untrusted client or redirect URI),
 * which go back to the client with `error`, `state` and `iss`, the loopback port rule of RFC 8252, and how
 * `prompt`, `max_age` and `login_hint` interact with an existing login session. Every refusal also checks
 * that nothing was issued: no authorization code and no pending interaction.
 */
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { databaseOf } from '../src/storage/testing.ts';
import {
  authorizeThroughLogin,
  authorizeUrl,
  Browser,
  codeParams,
  form,
  formOf,
  issuer,
  password,
  pkcePair,
  redeemCode,
  startServer,
  tokenRequest,
  unchangedRows,
  useServer,
  webRedirect,
  webSecret,
} from './helpers.ts';

const server = useServer();

const pkce = pkcePair();
type Values = Record<string, string | undefined>;

/** A valid code request for web-app; `undefined` in `extra` removes a parameter. */
function webParams(extra: Values = {}): Values {
  return codeParams(pkce, { scope: 'openid profile', state: 'st-1', nonce: 'n-1', extra });
}

function nativeParams(redirectUri: string, extra: Values = {}): Values {
  return webParams({ client_id: 'native-app', redirect_uri: redirectUri, ...extra });
}

/** Rows that would show that something was issued or parked for this request. */
const issuedTables = {
  codes: 'authorization_codes',
  interactions: 'interactions',
  sessions: 'sessions',
} as const;

/** Runs `send` and checks that it created no code, interaction or session. */
function issuesNothing(send: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  return unchangedRows(server, issuedTables, send);
}

function expectHtmlErrorPage(response: LightMyRequestResponse): void {
  expect(response.statusCode).toBe(400);
  expect(response.headers.location).toBeUndefined();
  expect(response.headers['set-cookie']).toBeUndefined();
  expect(response.headers['content-type']).toMatch(/^text\/html/);
  expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(response.body).toContain('This request cannot be completed');
  expect(response.body).not.toContain('code=');
}

/** The error went back to `redirectUri` with exactly error, error_description, state (when sent) and iss. */
function expectErrorRedirect(
  response: LightMyRequestResponse,
  redirectUri: string,
  error: string,
  state: string | undefined,
): URL {
  expect(response.statusCode).toBe(303);
  expect(response.headers['cache-control']).toBe('no-store');
  const location = new URL(response.headers.location as string);
  expect(location.href.split('?')[0]).toBe(redirectUri);
  expect(location.searchParams.getAll('error')).toEqual([error]);
  expect(location.searchParams.getAll('iss')).toEqual([issuer]);
  expect(location.searchParams.has('code')).toBe(false);
  if (state === undefined) expect(location.searchParams.has('state')).toBe(false);
  else expect(location.searchParams.getAll('state')).toEqual([state]);
  const expectedNames = ['error', 'error_description', 'iss', ...(state === undefined ? [] : ['state'])];
  expect([...new Set(location.searchParams.keys())].sort()).toEqual(expectedNames.sort());
  return location;
}

/** The request was accepted and parked as an interaction (the login or consent page comes next). */
function expectInteraction(response: LightMyRequestResponse): string {
  expect(response.statusCode).toBe(303);
  const location = response.headers.location as string;
  expect(location).toMatch(new RegExp(`^${issuer}/interaction/[A-Za-z0-9_-]{43}$`));
  return location;
}

/** The request was answered at once with a code (no page shown). */
function expectCodeRedirect(response: LightMyRequestResponse, redirectUri: string, state: string): URL {
  expect(response.statusCode).toBe(303);
  const location = new URL(response.headers.location as string);
  expect(location.href.split('?')[0]).toBe(redirectUri);
  expect(location.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(location.searchParams.getAll('state')).toEqual([state]);
  expect(location.searchParams.getAll('iss')).toEqual([issuer]);
  expect(location.searchParams.has('error')).toBe(false);
  return location;
}

async function redeem(code: string, verifier = pkce.verifier, redirectUri = webRedirect) {
  return redeemCode(server, code, verifier, { redirectUri });
}

/** A browser with a live session for alice that has consented to web-app's `openid profile`. */
async function loggedInBrowser(): Promise<Browser> {
  const browser = new Browser(server);
  const redirect = await authorizeThroughLogin(browser, authorizeUrl(webParams()));
  expect(redirect.searchParams.get('code')).not.toBeNull();
  expect(browser.cookies.has('__Host-gh-session')).toBe(true);
  return browser;
}

function isLoginPage(response: LightMyRequestResponse): boolean {
  return response.statusCode === 200 && /name="password"/.test(response.body);
}

describe('untrusted client or redirect URI: an HTML page, never a redirect', () => {
  const untrusted: [string, Values][] = [
    ['client_id is missing', webParams({ client_id: undefined })],
    ['client_id is empty', webParams({ client_id: '' })],
    ['client_id is unknown', webParams({ client_id: 'no-such-client' })],
    ['client_id differs in case', webParams({ client_id: 'Web-App' })],
    ['redirect_uri is missing', webParams({ redirect_uri: undefined })],
    ['redirect_uri is not registered', webParams({ redirect_uri: 'https://evil.example.com/signin-oidc' })],
    ['redirect_uri has a trailing slash', webParams({ redirect_uri: `${webRedirect}/` })],
    [
      'redirect_uri path differs in case',
      webParams({ redirect_uri: 'https://webapp.example.com/Signin-oidc' }),
    ],
    [
      'redirect_uri host differs in case',
      webParams({ redirect_uri: 'https://WEBAPP.example.com/signin-oidc' }),
    ],
    ['redirect_uri adds a query', webParams({ redirect_uri: `${webRedirect}?next=/admin` })],
    ['redirect_uri adds a fragment', webParams({ redirect_uri: `${webRedirect}#x` })],
    ['redirect_uri adds a port', webParams({ redirect_uri: 'https://webapp.example.com:8443/signin-oidc' })],
    [
      'redirect_uri uses http on a non-loopback host',
      webParams({ redirect_uri: 'http://webapp.example.com/signin-oidc' }),
    ],
    ['redirect_uri belongs to another client', webParams({ redirect_uri: 'https://post.example.com/cb' })],
    ['redirect_uri is relative', webParams({ redirect_uri: '/signin-oidc' })],
    [
      'localhost is not matched on any port',
      webParams({ redirect_uri: 'http://localhost:1234/signin-oidc' }),
    ],
    ['localhost is not matched on any port (native-app)', nativeParams('http://localhost:1234/callback')],
    ['loopback redirect with another path', nativeParams('http://127.0.0.1:54321/other')],
    ['loopback redirect with a path in another case', nativeParams('http://127.0.0.1:54321/Callback')],
    ['loopback redirect with a trailing slash', nativeParams('http://127.0.0.1:54321/callback/')],
    ['loopback redirect with an extra query', nativeParams('http://127.0.0.1:54321/callback?x=1')],
    ['loopback redirect with a fragment', nativeParams('http://127.0.0.1:54321/callback#x')],
    ['loopback redirect over https', nativeParams('https://127.0.0.1:54321/callback')],
    ['loopback redirect with user info', nativeParams('http://user@127.0.0.1:54321/callback')],
    ['loopback redirect with a dot segment', nativeParams('http://127.0.0.1:54321/x/../callback')],
    ['loopback redirect with a short IPv4 form', nativeParams('http://127.1:54321/callback')],
    ['loopback redirect with a decimal IPv4 form', nativeParams('http://2130706433:54321/callback')],
    ['loopback redirect with a long IPv6 form', nativeParams('http://[0:0:0:0:0:0:0:1]:54321/callback')],
    ['loopback redirect with an upper-case scheme', nativeParams('HTTP://127.0.0.1:54321/callback')],
    ['loopback redirect with another loopback address', nativeParams('http://127.0.0.2:54321/callback')],
    ['custom scheme with another path', nativeParams('com.example.nativeapp://callback/x')],
  ];

  it.each(untrusted)('%s', async (_name, values) => {
    const response = await issuesNothing(() => new Browser(server).get(authorizeUrl(values)));
    expectHtmlErrorPage(response);
  });

  it('shows the page even when the rest of the request is also wrong', async () => {
    const values = webParams({ redirect_uri: 'https://evil.example.com/cb', response_type: 'token' });
    expectHtmlErrorPage(await issuesNothing(() => new Browser(server).get(authorizeUrl(values))));
  });

  it('refuses a duplicated client_id with a page', async () => {
    const url = `${authorizeUrl(webParams())}&client_id=web-app`;
    expectHtmlErrorPage(await issuesNothing(() => new Browser(server).get(url)));
  });

  it('refuses a duplicated client_id with an empty second value with a page', async () => {
    const url = `${authorizeUrl(webParams())}&client_id=`;
    expectHtmlErrorPage(await issuesNothing(() => new Browser(server).get(url)));
  });

  it('refuses a duplicated redirect_uri with a page, even when both are registered', async () => {
    const url = `${authorizeUrl(webParams())}&${form({ redirect_uri: 'http://localhost:5000/signin-oidc' })}`;
    expectHtmlErrorPage(await issuesNothing(() => new Browser(server).get(url)));
  });

  it('refuses a POST /authorize body that is not form-encoded with a page', async () => {
    const response = await issuesNothing(() =>
      server.app.inject({
        method: 'POST',
        url: '/authorize',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(webParams()),
      }),
    );
    expect(response.statusCode).toBe(415);
    expect(response.headers.location).toBeUndefined();
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('refuses an untrusted redirect_uri on POST with a page', async () => {
    const response = await issuesNothing(() =>
      new Browser(server).post('/authorize', webParams({ redirect_uri: 'https://evil.example.com/cb' })),
    );
    expectHtmlErrorPage(response);
  });
});

describe('registered redirect URIs', () => {
  it.each([
    ['the first registered URI', webParams()],
    [
      'a registered localhost URI on its registered port',
      webParams({ redirect_uri: 'http://localhost:5000/signin-oidc' }),
    ],
    ['a registered custom scheme', nativeParams('com.example.nativeapp://callback')],
    ['127.0.0.1 on any port', nativeParams('http://127.0.0.1:54321/callback')],
    ['[::1] on any port', nativeParams('http://[::1]:8080/callback')],
    ['127.0.0.1 without a port', nativeParams('http://127.0.0.1/callback')],
    ['[::1] without a port', nativeParams('http://[::1]/callback')],
  ])('accepts %s', async (_name, values) => {
    expectInteraction(await new Browser(server).get(authorizeUrl(values)));
  });

  it('sends the code to the loopback port that was requested, and the code exchanges there', async () => {
    const native = pkcePair();
    const redirectUri = 'http://127.0.0.1:54321/callback';
    const browser = new Browser(server);
    const redirect = await authorizeThroughLogin(
      browser,
      authorizeUrl(
        nativeParams(redirectUri, { code_challenge: native.challenge, scope: 'openid api1.read' }),
      ),
    );
    expect(redirect.href.split('?')[0]).toBe(redirectUri);
    expect(redirect.searchParams.get('state')).toBe('st-1');
    expect(redirect.searchParams.get('iss')).toBe(issuer);
    const exchange = (uri: string) =>
      tokenRequest(server, {
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code') ?? '',
        redirect_uri: uri,
        code_verifier: native.verifier,
        client_id: 'native-app',
      });
    const wrongPort = await exchange('http://127.0.0.1:54322/callback');
    expect(wrongPort.body.error).toBe('invalid_grant');
    const tokens = await exchange(redirectUri);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token as string).aud).toBe('api1');
  });

  it('sends errors to the [::1] port that was requested', async () => {
    const redirectUri = 'http://[::1]:8080/callback';
    const response = await issuesNothing(() =>
      new Browser(server).get(authorizeUrl(nativeParams(redirectUri, { response_type: 'token' }))),
    );
    expectErrorRedirect(response, redirectUri, 'unsupported_response_type', 'st-1');
  });
});

describe('errors after the redirect URI is trusted go back to the client', () => {
  const plainVerifier = pkcePair().verifier;
  const cases: [string, Values, string][] = [
    ['response_type is missing', webParams({ response_type: undefined }), 'invalid_request'],
    ['response_type is empty', webParams({ response_type: '' }), 'invalid_request'],
    ['response_type=token', webParams({ response_type: 'token' }), 'unsupported_response_type'],
    [
      'response_type=code id_token',
      webParams({ response_type: 'code id_token' }),
      'unsupported_response_type',
    ],
    ['response_type=id_token', webParams({ response_type: 'id_token' }), 'unsupported_response_type'],
    ['response_type=CODE', webParams({ response_type: 'CODE' }), 'unsupported_response_type'],
    ['code_challenge is missing', webParams({ code_challenge: undefined }), 'invalid_request'],
    [
      'code_challenge and its method are missing',
      webParams({ code_challenge: undefined, code_challenge_method: undefined }),
      'invalid_request',
    ],
    ['code_challenge_method is missing', webParams({ code_challenge_method: undefined }), 'invalid_request'],
    [
      'code_challenge_method=plain',
      webParams({ code_challenge: plainVerifier, code_challenge_method: 'plain' }),
      'invalid_request',
    ],
    ['code_challenge_method is unknown', webParams({ code_challenge_method: 'S512' }), 'invalid_request'],
    ['code_challenge_method is lower case', webParams({ code_challenge_method: 's256' }), 'invalid_request'],
    ['code_challenge has 42 characters', webParams({ code_challenge: 'a'.repeat(42) }), 'invalid_request'],
    ['code_challenge has 44 characters', webParams({ code_challenge: 'a'.repeat(44) }), 'invalid_request'],
    ['code_challenge has 128 characters', webParams({ code_challenge: 'a'.repeat(128) }), 'invalid_request'],
    [
      'code_challenge uses the base64 alphabet (+ and /)',
      webParams({ code_challenge: `${'a'.repeat(41)}+/` }),
      'invalid_request',
    ],
    ['code_challenge is padded', webParams({ code_challenge: `${'a'.repeat(42)}=` }), 'invalid_request'],
    [
      'code_challenge uses verifier-only characters (. and ~)',
      webParams({ code_challenge: `${'a'.repeat(41)}.~` }),
      'invalid_request',
    ],
    ['code_challenge is not ASCII', webParams({ code_challenge: `${'a'.repeat(42)}é` }), 'invalid_request'],
    ['scope is missing', webParams({ scope: undefined }), 'invalid_scope'],
    ['scope is blank', webParams({ scope: '   ' }), 'invalid_scope'],
    ['a scope is unknown', webParams({ scope: 'openid admin' }), 'invalid_scope'],
    ['a scope has an invalid character', webParams({ scope: 'openid pro"file' }), 'invalid_scope'],
    [
      'a scope is not allowed for the client',
      nativeParams('http://127.0.0.1:54321/callback', { scope: 'openid orders.read' }),
      'invalid_scope',
    ],
    ['resource is unknown', webParams({ resource: 'https://unknown.example.com/api' }), 'invalid_target'],
    ['resource is relative', webParams({ resource: '/orders' }), 'invalid_target'],
    [
      'resource has a fragment',
      webParams({ resource: 'https://api.example.com/orders#x' }),
      'invalid_target',
    ],
    [
      'resource differs from the registered URI by a trailing slash',
      webParams({ resource: 'https://api.example.com/orders/' }),
      'invalid_target',
    ],
    ['request objects are sent', webParams({ request: 'eyJhbGciOiJub25lIn0.e30.' }), 'request_not_supported'],
    ['prompt is unknown', webParams({ prompt: 'select_account' }), 'invalid_request'],
    ['prompt=none is combined with login', webParams({ prompt: 'none login' }), 'invalid_request'],
    ['max_age is negative', webParams({ max_age: '-1' }), 'invalid_request'],
    ['max_age is not a number', webParams({ max_age: 'ten' }), 'invalid_request'],
    ['response_mode=fragment', webParams({ response_mode: 'fragment' }), 'invalid_request'],
  ];

  it.each(cases)('%s', async (_name, values, error) => {
    const redirectUri = values.redirect_uri ?? webRedirect;
    const response = await issuesNothing(() => new Browser(server).get(authorizeUrl(values)));
    expectErrorRedirect(response, redirectUri, error, 'st-1');
  });

  it('refuses a resource list where one indicator is unknown', async () => {
    const url = `${authorizeUrl(webParams({ resource: 'https://api.example.com/orders' }))}&${form({ resource: 'https://nope.example.com' })}`;
    expectErrorRedirect(
      await issuesNothing(() => new Browser(server).get(url)),
      webRedirect,
      'invalid_target',
      'st-1',
    );
  });

  it.each([
    ['scope', 'openid'],
    ['code_challenge', pkcePair().challenge],
    ['response_type', 'code'],
    ['nonce', 'n-2'],
    ['prompt', 'login'],
    ['max_age', '60'],
    ['login_hint', 'alice'],
    ['code_challenge_method', 'S256'],
  ])('refuses a duplicated %s with invalid_request', async (name, value) => {
    const url = `${authorizeUrl(webParams({ [name]: value }))}&${form({ [name]: value })}`;
    const response = await issuesNothing(() => new Browser(server).get(url));
    expectErrorRedirect(response, webRedirect, 'invalid_request', 'st-1');
  });

  it('refuses a duplicated state with invalid_request and echoes no state', async () => {
    const url = `${authorizeUrl(webParams())}&state=st-2`;
    const response = await issuesNothing(() => new Browser(server).get(url));
    expectErrorRedirect(response, webRedirect, 'invalid_request', undefined);
  });

  it('sends no state when none was sent', async () => {
    const values = webParams({ state: undefined, response_type: 'token' });
    const response = await issuesNothing(() => new Browser(server).get(authorizeUrl(values)));
    expectErrorRedirect(response, webRedirect, 'unsupported_response_type', undefined);
  });

  it('echoes a state with reserved characters exactly', async () => {
    const state = 'a b&c=d/é?#+%';
    const values = webParams({ state, code_challenge_method: 'plain' });
    const response = await issuesNothing(() => new Browser(server).get(authorizeUrl(values)));
    expectErrorRedirect(response, webRedirect, 'invalid_request', state);
  });

  it('keeps the query of a registered redirect URI and appends to it', async () => {
    const redirectUri = 'https://app.example.com/cb?tenant=a';
    const local = await startServer({
      clients: [
        {
          clientId: 'query-app',
          name: 'Query App',
          tokenEndpointAuthMethod: 'none',
          grantTypes: ['authorization_code'],
          redirectUris: [redirectUri],
          scopes: ['openid'],
        },
      ],
    });
    try {
      const values = webParams({ client_id: 'query-app', redirect_uri: redirectUri, response_type: 'token' });
      const response = await new Browser(local).get(authorizeUrl(values));
      expect(response.statusCode).toBe(303);
      const location = new URL(response.headers.location as string);
      expect(`${location.origin}${location.pathname}`).toBe('https://app.example.com/cb');
      expect(location.searchParams.get('tenant')).toBe('a');
      expect(location.searchParams.get('error')).toBe('unsupported_response_type');
      expect(location.searchParams.get('state')).toBe('st-1');
      expect(location.searchParams.get('iss')).toBe(issuer);
    } finally {
      await local.close();
    }
  });

  it('refuses a client that is not registered for the code grant with unauthorized_client', async () => {
    const local = await startServer({
      clients: [
        {
          clientId: 'cc-app',
          name: 'Machine App',
          secret: webSecret,
          grantTypes: ['client_credentials'],
          redirectUris: ['https://cc.example.com/cb'],
          scopes: ['openid'],
        },
      ],
    });
    try {
      const values = webParams({
        client_id: 'cc-app',
        redirect_uri: 'https://cc.example.com/cb',
        scope: 'openid',
      });
      const response = await new Browser(local).get(authorizeUrl(values));
      expect(response.statusCode).toBe(303);
      const location = new URL(response.headers.location as string);
      expect(location.href.split('?')[0]).toBe('https://cc.example.com/cb');
      expect(location.searchParams.get('error')).toBe('unauthorized_client');
      expect(location.searchParams.get('state')).toBe('st-1');
      expect(location.searchParams.get('iss')).toBe(issuer);
      expect(location.searchParams.has('code')).toBe(false);
      const interactions = await databaseOf(local.ctx.storage)
        .selectFrom('interactions')
        .select('id')
        .execute();
      expect(interactions).toEqual([]);
    } finally {
      await local.close();
    }
  });

  it('redirects errors from POST /authorize the same way', async () => {
    const response = await issuesNothing(() =>
      new Browser(server).post('/authorize', webParams({ code_challenge_method: 'plain' })),
    );
    expectErrorRedirect(response, webRedirect, 'invalid_request', 'st-1');
  });

  it('refuses a duplicated state in a POST body', async () => {
    const response = await issuesNothing(() =>
      server.app.inject({
        method: 'POST',
        url: '/authorize',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `${form(webParams())}&state=again`,
      }),
    );
    expectErrorRedirect(response, webRedirect, 'invalid_request', undefined);
  });
});

describe('accepted requests', () => {
  it('ignores an unknown parameter; the flow still ends in a code with state and iss, redeemable once', async () => {
    const browser = new Browser(server);
    const url = authorizeUrl(webParams({ unknown_param: 'whatever', ui_locales: 'fr' }));
    expectInteraction(await browser.get(url));
    const redirect = await authorizeThroughLogin(browser, url);
    expect(redirect.href.split('?')[0]).toBe(webRedirect);
    expect(redirect.searchParams.get('state')).toBe('st-1');
    expect(redirect.searchParams.get('iss')).toBe(issuer);
    const code = redirect.searchParams.get('code') ?? '';
    const first = await redeem(code);
    expect(first.status).toBe(200);
    expect(decodeJwt(first.body.id_token as string).nonce).toBe('n-1');
    const second = await redeem(code);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
  });

  it('accepts POST /authorize as it accepts GET', async () => {
    const browser = new Browser(server);
    // bob has not consented to this scope set, so the consent page comes after the login page.
    const response = await browser.post('/authorize', webParams({ state: 'posted', scope: 'openid roles' }));
    const location = expectInteraction(response);
    const page = await browser.get(location);
    expect(isLoginPage(page)).toBe(true);
    const login = formOf(page.body);
    const done = await browser.post(login.action, { csrf: login.csrf, username: 'bob', password });
    expect(done.statusCode).toBe(303);
    const consentPage = await browser.get(done.headers.location as string);
    const consent = formOf(consentPage.body);
    const allowed = await browser.post(consent.action, { csrf: consent.csrf, decision: 'allow' });
    const redirect = expectCodeRedirect(allowed, webRedirect, 'posted');
    expect((await redeem(redirect.searchParams.get('code') ?? '')).status).toBe(200);
  });

  it('accepts a known RFC 8707 resource and limits the token audience to it', async () => {
    const browser = new Browser(server);
    const url = authorizeUrl(
      webParams({ scope: 'openid orders.read api1.read', resource: 'https://api.example.com/orders' }),
    );
    const redirect = await authorizeThroughLogin(browser, url);
    const tokens = await redeem(redirect.searchParams.get('code') ?? '');
    expect(tokens.status).toBe(200);
    const access = decodeJwt(tokens.body.access_token as string);
    expect(access.aud).toBe('orders-api');
    expect(access.scope).toBe('openid orders.read');
  });

  it('sends no state on success when none was sent', async () => {
    const redirect = await authorizeThroughLogin(
      new Browser(server),
      authorizeUrl(webParams({ state: undefined })),
    );
    expect(redirect.searchParams.get('code')).not.toBeNull();
    expect(redirect.searchParams.has('state')).toBe(false);
    expect(redirect.searchParams.get('iss')).toBe(issuer);
  });
});

describe('prompt, max_age and login_hint', () => {
  it('prompt=none without a session: login_required, nothing parked', async () => {
    const response = await issuesNothing(() =>
      new Browser(server).get(authorizeUrl(webParams({ prompt: 'none' }))),
    );
    expectErrorRedirect(response, webRedirect, 'login_required', 'st-1');
  });

  it('prompt=none with a session but no consent for a scope: consent_required', async () => {
    const browser = await loggedInBrowser();
    const response = await issuesNothing(() =>
      browser.get(authorizeUrl(webParams({ prompt: 'none', scope: 'openid profile email' }))),
    );
    expectErrorRedirect(response, webRedirect, 'consent_required', 'st-1');
  });

  it('prompt=none with a session and consent: a code without any page', async () => {
    const browser = await loggedInBrowser();
    const verifier = pkcePair();
    const response = await browser.get(
      authorizeUrl(webParams({ prompt: 'none', state: 'silent', code_challenge: verifier.challenge })),
    );
    const redirect = expectCodeRedirect(response, webRedirect, 'silent');
    const tokens = await redeem(redirect.searchParams.get('code') ?? '', verifier.verifier);
    expect(tokens.status).toBe(200);
  });

  it('a session with consent gets a code without any page when no prompt is given', async () => {
    const browser = await loggedInBrowser();
    expectCodeRedirect(await browser.get(authorizeUrl(webParams({ state: 'again' }))), webRedirect, 'again');
  });

  it('prompt=login shows the login page even with a session, and replaces the session', async () => {
    const browser = await loggedInBrowser();
    const oldSession = browser.cookies.get('__Host-gh-session');
    const location = expectInteraction(await browser.get(authorizeUrl(webParams({ prompt: 'login' }))));
    const page = await browser.get(location);
    expect(isLoginPage(page)).toBe(true);
    const login = formOf(page.body);
    expect(login.action).toBe(`${location}/login`);
    const done = await browser.post(login.action, { csrf: login.csrf, username: 'alice', password });
    expectCodeRedirect(done, webRedirect, 'st-1');
    const newSession = browser.cookies.get('__Host-gh-session');
    expect(newSession).toBeDefined();
    expect(newSession).not.toBe(oldSession);

    const stale = new Browser(server);
    stale.cookies.set('__Host-gh-session', oldSession ?? '');
    expectErrorRedirect(
      await stale.get(authorizeUrl(webParams({ prompt: 'none' }))),
      webRedirect,
      'login_required',
      'st-1',
    );
  });

  it('prompt=consent shows the consent page even when consent was given', async () => {
    const browser = await loggedInBrowser();
    const location = expectInteraction(await browser.get(authorizeUrl(webParams({ prompt: 'consent' }))));
    const page = await browser.get(location);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="decision" value="allow"');
    expect(page.body).not.toContain('name="password"');
  });

  it('max_age=0 forces the login page even right after logging in', async () => {
    const browser = await loggedInBrowser();
    const location = expectInteraction(await browser.get(authorizeUrl(webParams({ max_age: '0' }))));
    expect(isLoginPage(await browser.get(location))).toBe(true);
  });

  it('max_age=0 with prompt=none is login_required', async () => {
    const browser = await loggedInBrowser();
    const response = await issuesNothing(() =>
      browser.get(authorizeUrl(webParams({ max_age: '0', prompt: 'none' }))),
    );
    expectErrorRedirect(response, webRedirect, 'login_required', 'st-1');
  });

  it('max_age is honoured until the session is older than it, then forces login', async () => {
    const browser = await loggedInBrowser();
    const firstAuthTime = server.clock();
    server.clock.advance(60);
    expectCodeRedirect(await browser.get(authorizeUrl(webParams({ max_age: '60' }))), webRedirect, 'st-1');
    server.clock.advance(1);
    const location = expectInteraction(await browser.get(authorizeUrl(webParams({ max_age: '60' }))));
    expect(isLoginPage(await browser.get(location))).toBe(true);
    expectErrorRedirect(
      await browser.get(authorizeUrl(webParams({ max_age: '60', prompt: 'none' }))),
      webRedirect,
      'login_required',
      'st-1',
    );
    // Without max_age the same session is still good.
    expectCodeRedirect(await browser.get(authorizeUrl(webParams())), webRedirect, 'st-1');

    // Logging in again on the forced login page gives an ID token with the new auth_time.
    const login = formOf((await browser.get(location)).body);
    const done = await browser.post(login.action, { csrf: login.csrf, username: 'alice', password });
    const redirect = expectCodeRedirect(done, webRedirect, 'st-1');
    const tokens = await redeem(redirect.searchParams.get('code') ?? '');
    expect(tokens.status).toBe(200);
    const authTime = decodeJwt(tokens.body.id_token as string).auth_time;
    expect(authTime).toBe(firstAuthTime + 61);
  });

  it('login_hint pre-fills the username field', async () => {
    const browser = new Browser(server);
    const location = expectInteraction(await browser.get(authorizeUrl(webParams({ login_hint: 'alice' }))));
    const page = await browser.get(location);
    expect(page.body).toMatch(/<input type="text"[^>]*name="username"[^>]*value="alice"/);
  });

  it('login_hint is escaped in the page', async () => {
    const hint = '"><script>alert(1)</script><input value="';
    const browser = new Browser(server);
    const location = expectInteraction(await browser.get(authorizeUrl(webParams({ login_hint: hint }))));
    const page = await browser.get(location);
    expect(page.body).not.toContain('<script');
    expect(page.body).toContain(
      'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;input value=&quot;"',
    );
  });

  it('without login_hint the username field is empty', async () => {
    const browser = new Browser(server);
    const location = expectInteraction(await browser.get(authorizeUrl(webParams())));
    const page = await browser.get(location);
    expect(page.body).toMatch(/name="username"[^>]*value=""/);
  });
});
