/**
 * Interop with the real Gatehouse authorization server on a loopback port: its RFC 9068 JWT access tokens
 * (client credentials, and a user's code flow with the roles scope) accepted through discovery, and its
 * opaque access tokens checked through its RFC 7662 /introspect with the API's own secret, including
 * revocation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSecret, basic, serviceSecret, webRedirect, webSecret } from '../../server/test/helpers.ts';
import { FetchBrowser, type ListeningServer, startListening } from '../../server/test/interop-helpers.ts';
import { createVerifier } from '../src/index.ts';
import { startExpressApi, type TestApi } from './support.ts';

async function postForm(url: string, values: Record<string, string>, authorization: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams(values),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function clientCredentialsToken(server: ListeningServer): Promise<string> {
  const response = await postForm(
    `${server.issuer}/token`,
    { grant_type: 'client_credentials', scope: 'orders.read' },
    basic('service-a', serviceSecret),
  );
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}

async function userToken(server: ListeningServer, scope: string): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${server.issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: 'web-app',
    redirect_uri: webRedirect,
    scope,
    state: 'state-1',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const { location } = await new FetchBrowser(server.issuer).walk(url);
  const code = new URL(location).searchParams.get('code');
  expect(code).toBeTruthy();
  const response = await postForm(
    `${server.issuer}/token`,
    { grant_type: 'authorization_code', code: code!, redirect_uri: webRedirect, code_verifier: verifier },
    basic('web-app', webSecret),
  );
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}

describe('JWT access tokens from Gatehouse', () => {
  let server: ListeningServer;
  let api: TestApi;

  beforeAll(async () => {
    server = await startListening();
    api = await startExpressApi({ issuer: server.issuer, audience: 'orders-api', logger: false });
  });

  afterAll(async () => {
    await api.close();
    await server.close();
  });

  it('accepts a client-credentials token for orders-api, with its scope', async () => {
    const token = await clientCredentialsToken(server);
    const hello = await api.get('/hello', { authorization: `Bearer ${token}` });
    expect(hello.status).toBe(200);
    expect(await hello.json()).toEqual({ sub: 'service-a', client: 'service-a' });
    expect((await api.get('/orders', { authorization: `Bearer ${token}` })).status).toBe(200);
    const write = await api.get('/orders/write', { authorization: `Bearer ${token}` });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('scope="orders.write"');
  });

  it("applies role policies to a user's token that carries roles", async () => {
    const token = await userToken(server, 'openid roles orders.read');
    const admin = await api.get('/admin', { authorization: `Bearer ${token}` });
    expect(admin.status).toBe(200);
    const withoutRoles = await userToken(server, 'openid orders.read');
    expect((await api.get('/admin', { authorization: `Bearer ${withoutRoles}` })).status).toBe(403);
  });

  it('refuses its tokens at an API with another audience', async () => {
    const other = createVerifier({ issuer: server.issuer, audience: 'api1', logger: false });
    const token = await clientCredentialsToken(server);
    await expect(other.verifyAccessToken(token)).rejects.toMatchObject({
      code: 'wrong_audience',
      status: 401,
    });
  });
});

describe('opaque access tokens through Gatehouse /introspect', () => {
  let server: ListeningServer;
  let api: TestApi;
  const events: { cached: boolean; outcome: string }[] = [];

  beforeAll(async () => {
    server = await startListening({
      apiResources: [
        {
          id: 'orders-api',
          uris: ['https://api.example.com/orders'],
          scopes: ['orders.read', 'orders.write'],
          secret: apiSecret,
          accessTokenFormat: 'opaque',
        },
        { id: 'api1', uris: ['https://api1.example.com'], scopes: ['api1.read'] },
      ],
    });
    api = await startExpressApi({
      issuer: server.issuer,
      audience: 'orders-api',
      logger: false,
      introspection: { clientId: 'orders-api', clientSecret: apiSecret, cacheTtl: 60 },
      onAuthentication: (event) => events.push(event),
    });
  });

  afterAll(async () => {
    await api.close();
    await server.close();
  });

  it('accepts an active opaque token, then serves repeats from the cache', async () => {
    const token = await clientCredentialsToken(server);
    expect(token.split('.')).toHaveLength(1);
    events.length = 0;
    const first = await api.get('/orders', { authorization: `Bearer ${token}` });
    expect(first.status).toBe(200);
    expect((await api.get('/hello', { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(events.map((event) => event.cached)).toEqual([false, true]);
    expect((await api.get('/orders/write', { authorization: `Bearer ${token}` })).status).toBe(403);
  });

  it('refuses a revoked token (not yet cached) and a made-up one', async () => {
    const token = await clientCredentialsToken(server);
    const revoked = await fetch(`${server.issuer}/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('service-a', serviceSecret),
      },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    for (const candidate of [token, randomBytes(32).toString('base64url')]) {
      const response = await api.get('/hello', { authorization: `Bearer ${candidate}` });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        'Bearer realm="orders-api", error="invalid_token", error_description="the token is not active", DPoP algs="ES256 ES384 EdDSA RS256 PS256"',
      );
    }
  });

  it('answers 503 when the API authenticates with a wrong secret', async () => {
    const wrong = createVerifier({
      issuer: server.issuer,
      audience: 'orders-api',
      logger: false,
      introspection: { clientId: 'orders-api', clientSecret: `${apiSecret}-wrong` },
    });
    const token = await clientCredentialsToken(server);
    await expect(wrong.verifyAccessToken(token)).rejects.toMatchObject({
      code: 'introspection_unavailable',
      status: 503,
    });
  });
});
