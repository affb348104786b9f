/**
 * Interop with the real Gatehouse authorization server on a loopback port: its RFC 9068 JWT access tokens
 * (client credentials, and a user's code flow with the roles scope) accepted through discovery, and its
 * opaque access tokens checked through its RFC 7662 /introspect with the API's own secret, including
 * revocation. An API configured for `scopeClaim: scp` gets the scopes as an `scp` array, which the
 * scope policies read as they read `scope`.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSecret, basic, serviceSecret } from '../../server/test/helpers.ts';
import { type ListeningServer, startListening } from '../../server/test/interop-helpers.ts';
import { createVerifier } from '../src/index.ts';
import { clientCredentialsToken, userToken } from './gatehouse-support.ts';
import { apiOptions, startExpressApi, type TestApi } from './support.ts';

describe('JWT access tokens from Gatehouse', () => {
  let server: ListeningServer;
  let api: TestApi;

  beforeAll(async () => {
    server = await startListening();
    api = await startExpressApi(apiOptions(server.issuer));
  });

  afterAll(async () => {
    await api.close();
    await server.close();
  });

  it('accepts a client-credentials token for orders-api, with its scope', async () => {
    const token = await clientCredentialsToken(server.issuer);
    const hello = await api.get('/hello', { authorization: `Bearer ${token}` });
    expect(hello.status).toBe(200);
    expect(await hello.json()).toEqual({ sub: 'service-a', client: 'service-a' });
    expect((await api.get('/orders', { authorization: `Bearer ${token}` })).status).toBe(200);
    const write = await api.get('/orders/write', { authorization: `Bearer ${token}` });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('scope="orders.write"');
  });

  it("applies role policies to a user's token that carries roles", async () => {
    const token = await userToken(server.issuer, 'openid roles orders.read');
    const admin = await api.get('/admin', { authorization: `Bearer ${token}` });
    expect(admin.status).toBe(200);
    const withoutRoles = await userToken(server.issuer, 'openid orders.read');
    expect((await api.get('/admin', { authorization: `Bearer ${withoutRoles}` })).status).toBe(403);
  });

  it('refuses its tokens at an API with another audience', async () => {
    const other = createVerifier({ issuer: server.issuer, audience: 'api1', logger: false });
    const token = await clientCredentialsToken(server.issuer);
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
    api = await startExpressApi(
      apiOptions(server.issuer, {
        introspection: { clientId: 'orders-api', clientSecret: apiSecret, cacheTtl: 60 },
        onAuthentication: (event) => events.push(event),
      }),
    );
  });

  afterAll(async () => {
    await api.close();
    await server.close();
  });

  it('accepts an active opaque token, then serves repeats from the cache', async () => {
    const token = await clientCredentialsToken(server.issuer);
    expect(token.split('.')).toHaveLength(1);
    events.length = 0;
    const first = await api.get('/orders', { authorization: `Bearer ${token}` });
    expect(first.status).toBe(200);
    expect((await api.get('/hello', { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(events.map((event) => event.cached)).toEqual([false, true]);
    expect((await api.get('/orders/write', { authorization: `Bearer ${token}` })).status).toBe(403);
  });

  it('refuses a revoked token (not yet cached) and a made-up one', async () => {
    const token = await clientCredentialsToken(server.issuer);
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
    const wrong = createVerifier(
      apiOptions(server.issuer, {
        introspection: { clientId: 'orders-api', clientSecret: `${apiSecret}-wrong` },
      }),
    );
    const token = await clientCredentialsToken(server.issuer);
    await expect(wrong.verifyAccessToken(token)).rejects.toMatchObject({
      code: 'introspection_unavailable',
      status: 503,
    });
  });
});

describe('scp access tokens from Gatehouse (apiResources[].scopeClaim)', () => {
  let server: ListeningServer;
  let api: TestApi;

  beforeAll(async () => {
    server = await startListening({
      apiResources: [
        {
          id: 'orders-api',
          uris: ['https://api.example.com/orders'],
          scopes: ['orders.read', 'orders.write'],
          secret: apiSecret,
          scopeClaim: 'scp',
        },
        { id: 'api1', uris: ['https://api1.example.com'], scopes: ['api1.read'] },
      ],
    });
    api = await startExpressApi(apiOptions(server.issuer));
  });

  afterAll(async () => {
    await api.close();
    await server.close();
  });

  it('applies scope policies to a token that carries scp and no scope', async () => {
    const token = await clientCredentialsToken(server.issuer);
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(payload.scp).toEqual(['orders.read']);
    expect(payload.scope).toBeUndefined();
    expect((await api.get('/orders', { authorization: `Bearer ${token}` })).status).toBe(200);
    const write = await api.get('/orders/write', { authorization: `Bearer ${token}` });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('scope="orders.write"');
  });
});
