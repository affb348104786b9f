/**
 * Interoperability with oidc-provider: the code flow with PKCE (through PAR, which it offers), refresh
 * with rotation, client credentials, private_key_jwt, the device flow, CIBA poll mode (its ciba feature, the
 * user approving through backchannelResult), DPoP-bound tokens with server
 * nonces at the token endpoint and at userinfo, revocation and the logout URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticatedFetch,
  dpopThumbprint,
  generateDPoPKey,
  OAuthClient,
  OAuthResponseError,
  TokenManager,
} from '../src/index.ts';
import { approvingSleep, testClock } from './support/gatehouse.ts';
import {
  approveDevice,
  introspect,
  providerRedirect,
  providerSecret,
  type RunningProvider,
  startProvider,
  walkProvider,
} from './support/oidc-provider.ts';

let provider: RunningProvider;

beforeAll(async () => {
  provider = await startProvider();
});

afterAll(async () => {
  await provider?.close();
});

function webClient(options: Partial<ConstructorParameters<typeof OAuthClient>[0]> = {}): OAuthClient {
  return new OAuthClient({
    issuer: provider.issuer,
    clientId: 'web',
    clientAuthentication: { method: 'client_secret_basic', clientSecret: providerSecret },
    redirectUri: providerRedirect,
    ...options,
  });
}

/** The provider's confidential `service` client (client credentials, Basic secret). */
function serviceClient(options: Partial<ConstructorParameters<typeof OAuthClient>[0]> = {}): OAuthClient {
  return new OAuthClient({
    issuer: provider.issuer,
    clientId: 'service',
    clientAuthentication: { method: 'client_secret_basic', clientSecret: providerSecret },
    ...options,
  });
}

describe('oidc-provider: authorization code flow', () => {
  it('pushes the request (PAR), then exchanges the code with PKCE and validates the id_token', async () => {
    const client = webClient();
    const before = provider.count('POST /request');
    const pending = await client.authorizationRequest({ scope: 'openid profile offline_access' });
    expect(provider.count('POST /request') - before).toBe(1);
    expect([...pending.url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const tokens = await client.handleCallback(await walkProvider(provider.issuer, pending.url), pending);
    expect(tokens.claims?.sub).toBe('alice');
    expect(tokens.claims?.nonce).toBe(pending.nonce);
    expect(tokens.refreshToken).toBeTypeOf('string');
  });

  it('sends the parameters on the URL when PAR is turned off', async () => {
    const client = webClient({ par: 'never' });
    const pending = await client.authorizationRequest({ scope: 'openid' });
    expect(pending.url.searchParams.get('code_challenge_method')).toBe('S256');
    const tokens = await client.handleCallback(await walkProvider(provider.issuer, pending.url), pending);
    expect(tokens.claims?.aud).toBe('web');
  });

  it('refreshes with rotation through the token manager', async () => {
    const clock = testClock();
    const client = webClient({ clock });
    const manager = new TokenManager(client, { random: () => 0 });
    const pending = await client.authorizationRequest({ scope: 'openid offline_access' });
    const tokens = await client.handleCallback(await walkProvider(provider.issuer, pending.url), pending);
    await manager.startSession(tokens);
    clock.advance(600);
    const refreshed = await manager.userAccessToken();
    expect(refreshed.value).not.toBe(tokens.accessToken);
    const session = await manager.session();
    expect(session?.refreshToken).not.toBe(tokens.refreshToken);
    const userinfo = await authenticatedFetch(manager.userTokens())(`${provider.issuer}/me`);
    expect(((await userinfo.json()) as { sub: string }).sub).toBe('alice');
  });

  it('builds an RP-initiated logout URL the server accepts', async () => {
    const client = webClient({ par: 'never' });
    const pending = await client.authorizationRequest({ scope: 'openid' });
    const tokens = await client.handleCallback(await walkProvider(provider.issuer, pending.url), pending);
    const url = await client.endSessionUrl({ idTokenHint: tokens.idToken!, state: 'bye' });
    expect(url.pathname).toBe('/session/end');
    expect(url.searchParams.get('client_id')).toBe('web');
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('logout');
  });
});

describe('oidc-provider: client credentials and client authentication', () => {
  it('gets and caches a token with client_secret_basic', async () => {
    const manager = new TokenManager(serviceClient());
    const before = provider.count('POST /token');
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => manager.clientCredentialsToken({ scope: 'orders.read' })),
    );
    expect(new Set(tokens.map((token) => token.value)).size).toBe(1);
    expect(provider.count('POST /token') - before).toBe(1);
  });

  it('authenticates with private_key_jwt, a fresh assertion per request', async () => {
    const client = new OAuthClient({
      issuer: provider.issuer,
      clientId: 'pkjwt',
      clientAuthentication: { method: 'private_key_jwt', privateKey: provider.clientKey },
    });
    const first = await client.clientCredentials({ scope: 'orders.read' });
    const second = await client.clientCredentials({ scope: 'orders.read' });
    expect(first.accessToken).not.toBe(second.accessToken);
    expect(first.scope).toBe('orders.read');
  });

  it('revokes a token', async () => {
    const client = serviceClient();
    await client.revoke((await client.clientCredentials()).accessToken, { tokenTypeHint: 'access_token' });
    await client.revoke('not-a-token');
  });
});

describe('oidc-provider: device flow', () => {
  it('starts, shows the user code, polls until the user approves', async () => {
    const clock = testClock();
    const client = new OAuthClient({ issuer: provider.issuer, clientId: 'device', clock });
    const authorization = await client.startDeviceAuthorization({ scope: 'openid offline_access' });
    expect(authorization.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(authorization.verificationUri).toBe(`${provider.issuer}/device`);
    expect(authorization.interval).toBe(5);
    const waits: number[] = [];
    const tokens = await client.pollDeviceAuthorization(authorization, {
      sleep: approvingSleep(clock, waits, 2, () =>
        approveDevice(provider.issuer, authorization.verificationUriComplete!),
      ),
    });
    expect(waits).toEqual([5000, 5000]);
    expect(tokens.claims?.sub).toBe('alice');
    expect(tokens.refreshToken).toBeTypeOf('string');
  });
});

describe('oidc-provider: DPoP', () => {
  it('binds client-credentials tokens to the DPoP key', async () => {
    const key = await generateDPoPKey();
    const client = serviceClient({ dpop: key });
    const tokens = await client.clientCredentials({ scope: 'orders.read' });
    expect(tokens.tokenType).toBe('DPoP');
    const body = await introspect(provider.issuer, 'service', providerSecret, tokens.accessToken);
    expect(body.active).toBe(true);
    expect(body.cnf?.jkt).toBe(await dpopThumbprint(key));
  });

  it('answers use_dpop_nonce at the token endpoint and at userinfo with the server nonce', async () => {
    const strict = await startProvider({ requireDPoPNonce: true });
    try {
      const key = await generateDPoPKey();
      const client = new OAuthClient({
        issuer: strict.issuer,
        clientId: 'web',
        clientAuthentication: { method: 'client_secret_basic', clientSecret: providerSecret },
        redirectUri: providerRedirect,
        dpop: key,
      });
      const pending = await client.authorizationRequest({ scope: 'openid' });
      const before = strict.count('POST /token');
      const tokens = await client.handleCallback(await walkProvider(strict.issuer, pending.url), pending);
      expect(strict.count('POST /token') - before).toBe(2);
      expect(tokens.tokenType).toBe('DPoP');

      const manager = new TokenManager(client);
      await manager.startSession(tokens);
      key.nonces.clear();
      const userinfoBefore = strict.count('GET /me');
      const response = await authenticatedFetch(manager.userTokens(), { dpop: key })(`${strict.issuer}/me`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { sub: string }).sub).toBe('alice');
      expect(strict.count('GET /me') - userinfoBefore).toBe(2);

      const withoutProof = await fetch(`${strict.issuer}/me`, {
        headers: { authorization: `DPoP ${tokens.accessToken}` },
      });
      expect(withoutProof.status).toBe(400);
    } finally {
      await strict.close();
    }
  });

  it('gives the error when the server refuses twice', async () => {
    const client = serviceClient({
      clientAuthentication: { method: 'client_secret_basic', clientSecret: 'wrong' },
      dpop: await generateDPoPKey(),
    });
    await expect(client.clientCredentials()).rejects.toBeInstanceOf(OAuthResponseError);
  });
});

describe('oidc-provider: CIBA (poll mode)', () => {
  it('starts a request and polls at the interval until the user approves', async () => {
    const clock = testClock();
    const client = new OAuthClient({
      issuer: provider.issuer,
      clientId: 'teller',
      clientAuthentication: { method: 'client_secret_basic', clientSecret: providerSecret },
      clock,
    });
    const started = await client.startBackchannelAuthentication({
      scope: 'openid',
      loginHint: 'alice',
      bindingMessage: 'W4711',
    });
    expect(started.authReqId).toBeTypeOf('string');
    const waits: number[] = [];
    const tokens = await client.pollBackchannelAuthentication(started, {
      sleep: async (milliseconds) => {
        waits.push(milliseconds);
        clock.advance(milliseconds / 1000);
        if (waits.length === 2) await provider.approveBackchannel();
      },
    });
    // The first poll found the request pending; the second, after the approval, got the tokens.
    expect(waits).toEqual([started.interval * 1000, started.interval * 1000]);
    expect(tokens.claims?.sub).toBe('alice');
    expect(tokens.claims?.aud).toBe('teller');
  });
});
