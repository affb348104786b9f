/**
 * Interop with the real Gatehouse authorization server on a loopback port: its RFC 9068 JWT access tokens
 * (client credentials, and a user's code flow with the roles scope) accepted through discovery, and its
 * opaque access tokens checked through its RFC 7662 /introspect with the API's own secret, including
 * revocation. An API configured for `scopeClaim: scp` gets the scopes as an `scp` array, which the
 * scope policies read as they read `scope`.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiSecret, basic, serviceSecret, testApiResources } from '../../server/test/helpers.ts';
import { createVerifier } from '../src/index.ts';
import { clientCredentialsToken, useGatehouseWithApi, userToken } from './gatehouse-support.ts';
import { apiOptions } from './support.ts';

describe('JWT access tokens from Gatehouse', () => {
  const gatehouse = useGatehouseWithApi();

  it('accepts a client-credentials token for orders-api, with its scope', async () => {
    const token = await clientCredentialsToken(gatehouse.issuer);
    const hello = await gatehouse.api.get('/hello', { authorization: `Bearer ${token}` });
    expect(hello.status).toBe(200);
    expect(await hello.json()).toEqual({ sub: 'service-a', client: 'service-a' });
    expect((await gatehouse.api.get('/orders', { authorization: `Bearer ${token}` })).status).toBe(200);
    const write = await gatehouse.api.get('/orders/write', { authorization: `Bearer ${token}` });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('scope="orders.write"');
  });

  it("applies role policies to a user's token that carries roles", async () => {
    const token = await userToken(gatehouse.issuer, 'openid roles orders.read');
    const admin = await gatehouse.api.get('/admin', { authorization: `Bearer ${token}` });
    expect(admin.status).toBe(200);
    const withoutRoles = await userToken(gatehouse.issuer, 'openid orders.read');
    expect((await gatehouse.api.get('/admin', { authorization: `Bearer ${withoutRoles}` })).status).toBe(403);
  });

  it('refuses its tokens at an API with another audience', async () => {
    const other = createVerifier({ issuer: gatehouse.issuer, audience: 'api1', logger: false });
    const token = await clientCredentialsToken(gatehouse.issuer);
    await expect(other.verifyAccessToken(token)).rejects.toMatchObject({
      code: 'wrong_audience',
      status: 401,
    });
  });
});

describe('opaque access tokens through Gatehouse /introspect', () => {
  const events: { cached: boolean; outcome: string }[] = [];
  const gatehouse = useGatehouseWithApi(
    { apiResources: testApiResources({ 'orders-api': { accessTokenFormat: 'opaque' } }) },
    (issuer) =>
      apiOptions(issuer, {
        introspection: { clientId: 'orders-api', clientSecret: apiSecret, cacheTtl: 60 },
        onAuthentication: (event) => events.push(event),
      }),
  );

  it('accepts an active opaque token, then serves repeats from the cache', async () => {
    const token = await clientCredentialsToken(gatehouse.issuer);
    expect(token.split('.')).toHaveLength(1);
    events.length = 0;
    const first = await gatehouse.api.get('/orders', { authorization: `Bearer ${token}` });
    expect(first.status).toBe(200);
    expect((await gatehouse.api.get('/hello', { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(events.map((event) => event.cached)).toEqual([false, true]);
    expect((await gatehouse.api.get('/orders/write', { authorization: `Bearer ${token}` })).status).toBe(403);
  });

  it('refuses a revoked token (not yet cached) and a made-up one', async () => {
    const token = await clientCredentialsToken(gatehouse.issuer);
    const revoked = await fetch(`${gatehouse.issuer}/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('service-a', serviceSecret),
      },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    for (const candidate of [token, randomBytes(32).toString('base64url')]) {
      const response = await gatehouse.api.get('/hello', { authorization: `Bearer ${candidate}` });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        'Bearer realm="orders-api", error="invalid_token", error_description="the token is not active", DPoP algs="ES256 ES384 EdDSA RS256 PS256"',
      );
    }
  });

  it('answers 503 when the API authenticates with a wrong secret', async () => {
    const wrong = createVerifier(
      apiOptions(gatehouse.issuer, {
        introspection: { clientId: 'orders-api', clientSecret: `${apiSecret}-wrong` },
      }),
    );
    const token = await clientCredentialsToken(gatehouse.issuer);
    await expect(wrong.verifyAccessToken(token)).rejects.toMatchObject({
      code: 'introspection_unavailable',
      status: 503,
    });
  });
});

describe('scp access tokens from Gatehouse (apiResources[].scopeClaim)', () => {
  const gatehouse = useGatehouseWithApi({
    apiResources: testApiResources({ 'orders-api': { scopeClaim: 'scp' } }),
  });

  it('applies scope policies to a token that carries scp and no scope', async () => {
    const token = await clientCredentialsToken(gatehouse.issuer);
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(payload.scp).toEqual(['orders.read']);
    expect(payload.scope).toBeUndefined();
    expect((await gatehouse.api.get('/orders', { authorization: `Bearer ${token}` })).status).toBe(200);
    const write = await gatehouse.api.get('/orders/write', { authorization: `Bearer ${token}` });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('scope="orders.write"');
  });
});
