/**
 * The client against a real Gatehouse server over a real port: discovery, the code flow with PKCE for
 * confidential and public clients (loopback), callback checks, client credentials through the token
 * manager (cache, renewal, single flight counted at the server), refresh rotation and reuse detection,
 * the authenticated fetch, revocation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../server/test/helpers.ts';
import {
  authenticatedFetch,
  authorizeWithLoopback,
  GatehouseClientError,
  LoginRequiredError,
  OAuthClient,
  OAuthResponseError,
  TokenManager,
} from '../src/index.ts';
import {
  approveGatehouseDevice,
  approvingSleep,
  FetchBrowser,
  type RunningGatehouse,
  serviceSecret,
  startGatehouse,
  testClock,
  webRedirect,
  webSecret,
} from './support/gatehouse.ts';

const postLogoutRedirect = 'https://webapp.example.com/signout-callback-oidc';
const specialSecret = 'sec:ret+with %&=special/chars?0123456789-abcdefghij ünïcode';
const ordersResource = 'https://api.example.com/orders';

let gatehouse: RunningGatehouse;

beforeAll(async () => {
  const base = testConfig();
  gatehouse = await startGatehouse({
    clients: [
      ...(base.clients as Array<Record<string, unknown>>).map((client) =>
        client.clientId === 'web-app' ? { ...client, postLogoutRedirectUris: [postLogoutRedirect] } : client,
      ),
      {
        clientId: 'device-app',
        name: 'TV App',
        tokenEndpointAuthMethod: 'none',
        grantTypes: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        scopes: ['openid', 'profile', 'offline_access', 'api1.read'],
      },
      {
        clientId: 'special.client~1',
        name: 'Special Characters',
        secret: specialSecret,
        grantTypes: ['client_credentials'],
        scopes: ['orders.read'],
        requireConsent: false,
      },
    ],
  });
});

afterAll(async () => {
  await gatehouse?.close();
});

function webClient(options: { clock?: () => number; par?: 'auto' | 'never' } = {}): OAuthClient {
  return new OAuthClient({
    issuer: gatehouse.issuer,
    clientId: 'web-app',
    clientAuthentication: { method: 'client_secret_basic', clientSecret: webSecret },
    redirectUri: webRedirect,
    ...options,
  });
}

function serviceClient(options: { clock?: () => number } = {}): OAuthClient {
  return new OAuthClient({
    issuer: gatehouse.issuer,
    clientId: 'service-a',
    clientAuthentication: { method: 'client_secret_basic', clientSecret: serviceSecret },
    ...options,
  });
}

async function signIn(client: OAuthClient, scope = 'openid profile offline_access orders.read') {
  const pending = await client.authorizationRequest({ scope });
  const { location } = await new FetchBrowser(gatehouse.issuer).walk(pending.url);
  return { pending, location, tokens: await client.handleCallback(location, pending) };
}

describe('discovery', () => {
  it('reads the OpenID configuration once and reuses it', async () => {
    const before = gatehouse.count('GET /.well-known/openid-configuration');
    const client = new OAuthClient({ issuer: gatehouse.issuer, clientId: 'web-app' });
    const metadata = await client.metadata();
    await new OAuthClient({ issuer: gatehouse.issuer, clientId: 'native-app' }).metadata();
    expect(metadata.issuer).toBe(gatehouse.issuer);
    expect(metadata.token_endpoint).toBe(`${gatehouse.issuer}/token`);
    expect(gatehouse.count('GET /.well-known/openid-configuration') - before).toBeLessThanOrEqual(1);
  });
});

describe('authorization code flow with PKCE', () => {
  it('builds the request, exchanges the code and validates the id_token (client_secret_basic)', async () => {
    const client = webClient({ par: 'never' });
    const { pending, tokens } = await signIn(client);
    expect(pending.url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(pending.url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pending.url.searchParams.get('nonce')).toBe(pending.nonce);
    expect(tokens.tokenType).toBe('Bearer');
    expect(tokens.refreshToken).toBeTypeOf('string');
    expect(tokens.claims?.iss).toBe(gatehouse.issuer);
    expect(tokens.claims?.aud).toContain('web-app');
    expect(tokens.claims?.nonce).toBe(pending.nonce);
    expect(tokens.claims?.at_hash).toBeTypeOf('string');
  });

  it('signs in with client_secret_post', async () => {
    const client = new OAuthClient({
      issuer: gatehouse.issuer,
      clientId: 'post-app',
      clientAuthentication: { method: 'client_secret_post', clientSecret: webSecret },
      redirectUri: 'https://post.example.com/cb',
    });
    const { tokens } = await signIn(client, 'openid orders.read');
    expect(tokens.claims?.aud).toContain('post-app');
  });

  it('rejects a callback whose state differs, before any token request', async () => {
    const client = webClient();
    const pending = await client.authorizationRequest({ scope: 'openid' });
    const { location } = await new FetchBrowser(gatehouse.issuer).walk(pending.url);
    const tampered = new URL(location);
    tampered.searchParams.set('state', 'forged');
    const before = gatehouse.count('POST /token');
    const error = await client.handleCallback(tampered, pending).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatehouseClientError);
    expect((error as GatehouseClientError).code).toBe('state_mismatch');
    expect(gatehouse.count('POST /token')).toBe(before);
  });

  it('rejects a callback from another issuer, and one without iss since Gatehouse sends it (RFC 9207)', async () => {
    const client = webClient();
    const pending = await client.authorizationRequest({ scope: 'openid' });
    const { location } = await new FetchBrowser(gatehouse.issuer).walk(pending.url);
    expect(new URL(location).searchParams.get('iss')).toBe(gatehouse.issuer);
    const other = new URL(location);
    other.searchParams.set('iss', 'https://evil.example.com');
    await expect(client.handleCallback(other, pending)).rejects.toMatchObject({ code: 'issuer_mismatch' });
    const missing = new URL(location);
    missing.searchParams.delete('iss');
    await expect(client.handleCallback(missing, pending)).rejects.toMatchObject({ code: 'issuer_mismatch' });
  });

  it('surfaces an error response (the user denies consent)', async () => {
    const client = webClient();
    const pending = await client.authorizationRequest({ scope: 'openid orders.write' });
    const { location } = await new FetchBrowser(gatehouse.issuer).walk(pending.url, { decision: 'deny' });
    const error = await client.handleCallback(location, pending).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OAuthResponseError);
    expect((error as OAuthResponseError).error).toBe('access_denied');
  });

  it('checks auth_time when max_age is sent (Gatehouse includes it)', async () => {
    const client = webClient({ par: 'never' });
    const pending = await client.authorizationRequest({ scope: 'openid', maxAge: 300 });
    expect(pending.url.searchParams.get('max_age')).toBe('300');
    const { location } = await new FetchBrowser(gatehouse.issuer).walk(pending.url);
    const tokens = await client.handleCallback(location, pending);
    expect(tokens.claims?.auth_time).toBeTypeOf('number');
  });

  it('refuses an id_token whose nonce is not the one sent', async () => {
    const client = webClient();
    const pending = await client.authorizationRequest({ scope: 'openid' });
    const { location } = await new FetchBrowser(gatehouse.issuer).walk(pending.url);
    await expect(
      client.handleCallback(location, { ...pending, nonce: 'another-nonce' }),
    ).rejects.toMatchObject({
      code: 'id_token_invalid',
    });
  });

  it('pushes the request when Gatehouse offers PAR (RFC 9126), the default', async () => {
    const client = webClient();
    const { pending, tokens } = await signIn(client);
    expect([...pending.url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(pending.url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(tokens.idToken).toBeTypeOf('string');
  });

  it('signs a public native app in through a one-shot loopback listener (RFC 8252)', async () => {
    const client = new OAuthClient({ issuer: gatehouse.issuer, clientId: 'native-app', par: 'never' });
    let redirectUri = '';
    const tokens = await authorizeWithLoopback(client, {
      scope: 'openid profile offline_access api1.read',
      openBrowser: async (url) => {
        redirectUri = new URL(url).searchParams.get('redirect_uri')!;
        const { location } = await new FetchBrowser(gatehouse.issuer).walk(url);
        const page = await fetch(location);
        expect(page.status).toBe(200);
        await page.text();
      },
    });
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(tokens.claims?.aud).toContain('native-app');
    expect(tokens.refreshToken).toBeTypeOf('string');
    await expect(fetch(redirectUri)).rejects.toThrow();
  });
});

describe('client credentials through the token manager', () => {
  it('caches the token and renews it 30 s before expiry (jitter 0), counted at the server', async () => {
    const clock = testClock();
    const manager = new TokenManager(serviceClient({ clock }), { random: () => 0 });
    const before = gatehouse.count('POST /token');
    const first = await manager.clientCredentialsToken({ scope: 'orders.read' });
    expect(first.expiresAt - clock()).toBe(600);
    clock.advance(600 - 31);
    expect((await manager.clientCredentialsToken({ scope: 'orders.read' })).value).toBe(first.value);
    expect(gatehouse.count('POST /token') - before).toBe(1);
    clock.advance(1);
    const renewed = await manager.clientCredentialsToken({ scope: 'orders.read' });
    expect(renewed.value).not.toBe(first.value);
    expect(gatehouse.count('POST /token') - before).toBe(2);
  });

  it('renews earlier by the drawn jitter', async () => {
    const clock = testClock();
    const manager = new TokenManager(serviceClient({ clock }), { random: () => 0.5, jitter: 20 });
    const before = gatehouse.count('POST /token');
    await manager.clientCredentialsToken();
    clock.advance(600 - 41);
    await manager.clientCredentialsToken();
    expect(gatehouse.count('POST /token') - before).toBe(1);
    clock.advance(1);
    await manager.clientCredentialsToken();
    expect(gatehouse.count('POST /token') - before).toBe(2);
  });

  it('keeps one cache entry per (scope, resource)', async () => {
    const manager = new TokenManager(serviceClient());
    const before = gatehouse.count('POST /token');
    const plain = await manager.clientCredentialsToken({ scope: 'orders.read' });
    const forOrders = await manager.clientCredentialsToken({
      scope: 'orders.read',
      resource: ordersResource,
    });
    await manager.clientCredentialsToken({ scope: 'orders.read' });
    await manager.clientCredentialsToken({ scope: 'orders.read', resource: [ordersResource] });
    expect(plain.value).not.toBe(forOrders.value);
    expect(gatehouse.count('POST /token') - before).toBe(2);
  });

  it('sends one token request for 100 concurrent callers (single flight)', async () => {
    const manager = new TokenManager(serviceClient());
    const before = gatehouse.count('POST /token');
    const tokens = await Promise.all(
      Array.from({ length: 100 }, () => manager.clientCredentialsToken({ scope: 'orders.read' })),
    );
    expect(new Set(tokens.map((token) => token.value)).size).toBe(1);
    expect(gatehouse.count('POST /token') - before).toBe(1);
  });

  it('form-encodes id and secret in the Basic header (RFC 6749 §2.3.1)', async () => {
    const client = new OAuthClient({
      issuer: gatehouse.issuer,
      clientId: 'special.client~1',
      clientAuthentication: { method: 'client_secret_basic', clientSecret: specialSecret },
    });
    const tokens = await client.clientCredentials({ scope: 'orders.read' });
    expect(tokens.scope).toBe('orders.read');
  });

  it('surfaces invalid_client as a typed error', async () => {
    const client = new OAuthClient({
      issuer: gatehouse.issuer,
      clientId: 'service-a',
      clientAuthentication: { method: 'client_secret_basic', clientSecret: 'wrong-secret' },
    });
    const error = await client.clientCredentials().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OAuthResponseError);
    expect((error as OAuthResponseError).error).toBe('invalid_client');
    expect((error as OAuthResponseError).status).toBe(401);
  });
});

describe('user sessions', () => {
  it('refreshes before expiry, stores the rotated refresh token, and reuse ends in login required', async () => {
    const clock = testClock();
    const client = webClient({ clock });
    const manager = new TokenManager(client, { random: () => 0 });
    const { tokens } = await signIn(client);
    await manager.startSession(tokens);
    expect((await manager.userAccessToken()).value).toBe(tokens.accessToken);

    clock.advance(600 - 30);
    const before = gatehouse.count('POST /token');
    const refreshed = await manager.userAccessToken();
    expect(gatehouse.count('POST /token') - before).toBe(1);
    expect(refreshed.value).not.toBe(tokens.accessToken);
    const session = await manager.session();
    expect(session?.refreshToken).toBeTypeOf('string');
    expect(session?.refreshToken).not.toBe(tokens.refreshToken);
    expect(session?.accessToken).toBe(refreshed.value);

    // The first refresh token was rotated away; presenting it again revokes the whole family.
    await expect(client.refresh(tokens.refreshToken!)).rejects.toMatchObject({ error: 'invalid_grant' });
    clock.advance(600);
    const error = await manager.userAccessToken().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LoginRequiredError);
    expect((error as LoginRequiredError).code).toBe('login_required');
    expect(await manager.session()).toBeUndefined();
    await expect(manager.userAccessToken()).rejects.toBeInstanceOf(LoginRequiredError);
  });

  it('refreshes once for 100 concurrent callers', async () => {
    const clock = testClock();
    const client = webClient({ clock });
    const manager = new TokenManager(client, { random: () => 0 });
    await manager.startSession((await signIn(client)).tokens);
    clock.advance(600);
    const before = gatehouse.count('POST /token');
    const tokens = await Promise.all(Array.from({ length: 100 }, () => manager.userAccessToken()));
    expect(new Set(tokens.map((token) => token.value)).size).toBe(1);
    expect(gatehouse.count('POST /token') - before).toBe(1);
  });

  it('retries a request once with a new token after 401 invalid_token', async () => {
    const client = webClient();
    const manager = new TokenManager(client);
    const { tokens } = await signIn(client);
    await manager.startSession(tokens);
    await client.revoke(tokens.accessToken, { tokenTypeHint: 'access_token' });
    const userinfo = `${gatehouse.issuer}/userinfo`;
    const direct = await fetch(userinfo, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    expect(direct.status).toBe(401);
    expect(direct.headers.get('www-authenticate')).toContain('invalid_token');

    const before = gatehouse.count('POST /token');
    const response = await authenticatedFetch(manager.userTokens())(userinfo);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { sub: string }).sub).toBe(tokens.claims?.sub);
    expect(gatehouse.count('POST /token') - before).toBe(1);
    expect((await manager.session())?.accessToken).not.toBe(tokens.accessToken);
  });

  it('turns a revoked grant into login required during the retry', async () => {
    const client = webClient();
    const manager = new TokenManager(client);
    const { tokens } = await signIn(client);
    await manager.startSession(tokens);
    await client.revoke(tokens.refreshToken!, { tokenTypeHint: 'refresh_token' });
    const error = await authenticatedFetch(manager.userTokens())(`${gatehouse.issuer}/userinfo`).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LoginRequiredError);
    expect(await manager.session()).toBeUndefined();
  });

  it('ends a session by revoking its refresh token', async () => {
    const client = webClient();
    const manager = new TokenManager(client);
    const { tokens } = await signIn(client);
    await manager.startSession(tokens);
    await manager.endSession({ revoke: true });
    expect(await manager.session()).toBeUndefined();
    await expect(client.refresh(tokens.refreshToken!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('device flow', () => {
  it('starts, shows the user code, polls honouring the interval until the user approves', async () => {
    const clock = testClock();
    const client = new OAuthClient({ issuer: gatehouse.issuer, clientId: 'device-app', clock });
    const authorization = await client.startDeviceAuthorization({ scope: 'openid profile offline_access' });
    expect(authorization.verificationUri).toBe(`${gatehouse.issuer}/device`);
    expect(authorization.verificationUriComplete).toBe(
      `${gatehouse.issuer}/device?user_code=${encodeURIComponent(authorization.userCode)}`,
    );
    const waits: number[] = [];
    const before = gatehouse.count('POST /token');
    const tokens = await client.pollDeviceAuthorization(authorization, {
      sleep: approvingSleep(clock, waits, 2, () =>
        approveGatehouseDevice(gatehouse.issuer, authorization.verificationUriComplete!),
      ),
    });
    expect(waits).toEqual([authorization.interval * 1000, authorization.interval * 1000]);
    expect(gatehouse.count('POST /token') - before).toBe(2);
    expect(tokens.claims?.aud).toContain('device-app');
    expect(tokens.refreshToken).toBeTypeOf('string');
  });

  it('runs the whole flow with authorizeDevice and hands over the user code to show', async () => {
    const client = new OAuthClient({ issuer: gatehouse.issuer, clientId: 'device-app' });
    const shown: string[] = [];
    let complete = '';
    let approved = false;
    const tokens = await client.authorizeDevice({
      scope: 'openid',
      showUserCode: (authorization) => {
        shown.push(authorization.userCode, authorization.verificationUri);
        complete = authorization.verificationUriComplete!;
      },
      sleep: async () => {
        if (!approved) {
          approved = true;
          await approveGatehouseDevice(gatehouse.issuer, complete);
        }
      },
    });
    expect(shown[1]).toBe(`${gatehouse.issuer}/device`);
    expect(shown[0]).toMatch(/\S{4,}/);
    expect(tokens.claims?.aud).toContain('device-app');
  });

  it('adds 5 seconds after the server answers slow_down to a poll that came too soon', async () => {
    const clock = testClock();
    const client = new OAuthClient({ issuer: gatehouse.issuer, clientId: 'device-app', clock });
    const authorization = await client.startDeviceAuthorization({ scope: 'openid' });
    expect(authorization.interval).toBe(5);
    const waits: number[] = [];
    const tokens = await client.pollDeviceAuthorization(authorization, {
      // Only the client's clock moves, so the server sees the second poll come too soon.
      sleep: approvingSleep(clock, waits, 3, () =>
        approveGatehouseDevice(gatehouse.issuer, authorization.verificationUriComplete!),
      ),
    });
    expect(waits).toEqual([5000, 5000, 10000]);
    expect(tokens.accessToken).toBeTypeOf('string');
  });

  it('surfaces access_denied when the user declines', async () => {
    const client = new OAuthClient({ issuer: gatehouse.issuer, clientId: 'device-app' });
    const authorization = await client.startDeviceAuthorization({ scope: 'openid' });
    let approved = false;
    const error = await client
      .pollDeviceAuthorization(authorization, {
        sleep: async () => {
          if (!approved) {
            approved = true;
            await approveGatehouseDevice(gatehouse.issuer, authorization.verificationUriComplete!, 'deny');
          }
        },
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OAuthResponseError);
    expect((error as OAuthResponseError).error).toBe('access_denied');
  });
});

describe('userinfo', () => {
  it('reads the claims for the ID Token subject, refuses another subject and a DPoP token without the key', async () => {
    const client = webClient();
    const { tokens } = await signIn(client, 'openid profile');
    const claims = await client.userinfo(tokens.accessToken, { expectedSubject: tokens.claims!.sub });
    expect(claims.sub).toBe(tokens.claims!.sub);
    expect(claims.name).toBe('Alice Smith');
    await expect(
      client.userinfo(tokens.accessToken, { expectedSubject: 'someone-else' }),
    ).rejects.toMatchObject({ code: 'invalid_response' });
    await expect(
      client.userinfo(`${tokens.accessToken}x`, { expectedSubject: tokens.claims!.sub }),
    ).rejects.toBeInstanceOf(OAuthResponseError);
    // A DPoP token cannot be presented without the client's DPoP key (never downgraded to Bearer).
    await expect(
      client.userinfo(tokens.accessToken, { tokenType: 'DPoP', expectedSubject: tokens.claims!.sub }),
    ).rejects.toMatchObject({ code: 'unsupported' });
  });
});

describe('RP-initiated logout', () => {
  it('builds an end-session URL that signs the browser out and returns to the client with state', async () => {
    const client = webClient();
    const browser = new FetchBrowser(gatehouse.issuer);
    const pending = await client.authorizationRequest({ scope: 'openid' });
    const tokens = await client.handleCallback((await browser.walk(pending.url)).location, pending);
    const url = await client.endSessionUrl({
      idTokenHint: tokens.idToken!,
      postLogoutRedirectUri: postLogoutRedirect,
      state: 'bye',
    });
    expect(url.href.startsWith(`${gatehouse.issuer}/end_session?`)).toBe(true);
    const response = await browser.get(url.href);
    await response.text();
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${postLogoutRedirect}?state=bye`);
    const again = await browser.walk((await client.authorizationRequest({ scope: 'openid' })).url);
    expect(again.pages).toContain('login');
  });
});
