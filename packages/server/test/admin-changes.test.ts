/**
 * Admin API changes seen by the protocol endpoints and raced by operators (issue 20), on two nodes sharing
 * SQLite or PostgreSQL: a client disabled on one node has its access tokens refused at introspection and
 * userinfo on the other at once, its refresh tokens dead, and works again once enabled (unless its grants
 * were revoked); two operators changing one resource with the same ETag: exactly one wins, the other gets
 * 412; and the admin API's rate limits (429 problem details with Retry-After).
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  adminConfig,
  call,
  expectProblem,
  operatorToken,
  readerSecret,
  useAdminNodes,
} from './admin-helpers.ts';
import { type BackendName, backendNames } from './backends.ts';
import {
  basic,
  codeFlowTokens,
  codeRequest,
  type GatehouseServer,
  introspectToken,
  pkcePair,
  tokenRequest,
  useServer,
  webRedirect,
} from './helpers.ts';

const shop = {
  clientId: 'shop',
  name: 'Shop',
  grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
  redirectUris: [webRedirect],
  scopes: ['openid', 'profile', 'offline_access', 'orders.read'],
  requireConsent: false,
};

function userinfo(server: GatehouseServer, accessToken: string) {
  return server.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${accessToken}` },
  });
}

function refresh(server: GatehouseServer, refreshToken: string, secret: string) {
  return tokenRequest(
    server,
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    basic('shop', secret),
  );
}

/** Reads a resource's ETag and posts (or deletes) with it. */
async function changeWithTag(
  server: GatehouseServer,
  token: string,
  method: 'POST' | 'DELETE',
  path: string,
  readPath: string,
  body?: unknown,
) {
  const ifMatch = (await call(server, 'GET', readPath, { token })).headers.etag as string;
  return call(server, method, path, { token, ifMatch, ...(body === undefined ? {} : { body }) });
}

describe.each(backendNames)('a client disabled on one of two nodes sharing %s', (backend: BackendName) => {
  const nodes = useAdminNodes(backend);

  it('has its tokens refused at introspection and userinfo on the other at once and its refresh tokens dead', async () => {
    const { a, b } = nodes;
    const token = await operatorToken(a);
    const created = await call(a, 'POST', '/clients', { token, body: shop });
    expect(created.status).toBe(201);
    expect((created.body.client as Record<string, unknown>).disabledAt).toBeNull();
    const secret = created.body.clientSecret as string;
    // Node B has the client cached before it is disabled on node A.
    const { tokens } = await codeFlowTokens(
      b,
      { clientId: 'shop', scope: 'openid profile offline_access orders.read' },
      { authorization: basic('shop', secret) },
    );
    expect(tokens.status).toBe(200);
    const accessToken = tokens.body.access_token as string;
    const machineToken = (
      await tokenRequest(b, { grant_type: 'client_credentials', scope: 'orders.read' }, basic('shop', secret))
    ).body.access_token as string;
    expect((await introspectToken(b, accessToken)).body.active).toBe(true);
    expect((await introspectToken(b, machineToken)).body.active).toBe(true);
    expect((await userinfo(b, accessToken)).statusCode).toBe(200);

    const disabled = await changeWithTag(a, token, 'POST', '/clients/shop/disable', '/clients/shop');
    expect(disabled.status).toBe(200);
    expect(typeof disabled.body.disabledAt).toBe('string');
    expect((await introspectToken(b, accessToken)).body).toEqual({ active: false });
    expect((await introspectToken(b, machineToken)).body).toEqual({ active: false });
    expect((await userinfo(b, accessToken)).statusCode).toBe(401);
    const refused = await refresh(b, tokens.body.refresh_token as string, secret);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(
      (await tokenRequest(b, { grant_type: 'client_credentials' }, basic('shop', secret))).body.error,
    ).toBe('invalid_client');
    // An authorization request gets an error page, never a redirect to the client.
    const authorize = await b.app.inject({
      method: 'GET',
      url: codeRequest(pkcePair(), { clientId: 'shop', scope: 'openid' }),
    });
    expect(authorize.statusCode).toBe(400);
    expect(authorize.headers.location).toBeUndefined();

    // Enabled again, the suspension ends: the same tokens work (their grant was kept).
    expect((await changeWithTag(a, token, 'POST', '/clients/shop/enable', '/clients/shop')).status).toBe(200);
    expect((await introspectToken(b, accessToken)).body.active).toBe(true);
    const refreshed = await refresh(b, tokens.body.refresh_token as string, secret);
    expect(refreshed.status).toBe(200);

    // Disabled with revokeGrants, its refresh tokens stay dead after it is enabled.
    const revoking = await changeWithTag(a, token, 'POST', '/clients/shop/disable', '/clients/shop', {
      revokeGrants: true,
    });
    expect(revoking.status).toBe(200);
    expect((await changeWithTag(a, token, 'POST', '/clients/shop/enable', '/clients/shop')).status).toBe(200);
    const dead = await refresh(b, refreshed.body.refresh_token as string, secret);
    expect(dead.status).toBe(400);
    expect(dead.body.error).toBe('invalid_grant');
    expect((await introspectToken(b, refreshed.body.access_token as string)).body.active).toBe(false);
  });

  it('of two operators changing one resource with the same ETag, exactly one wins (412 for the other)', async () => {
    const { a, b } = nodes;
    const token = await operatorToken(a);
    const { tokens } = await codeFlowTokens(b, { scope: 'openid profile offline_access' });
    expect(tokens.status).toBe(200);
    const { sid, sub } = decodeJwt(tokens.body.id_token as string) as { sid: string; sub: string };
    const grants = await call(a, 'GET', `/grants?userId=${sub}&clientId=web-app`, { token });
    const grantId = (grants.body.items as { id: string }[])[0]!.id;
    // Two nodes in one process cannot share an SQLite file's write lock (its busy wait blocks the one event
    // loop both run on), so on SQLite both operators call node A; on PostgreSQL one calls each node.
    const racer = backend === 'sqlite' ? a : b;
    const race = async (paths: [string, string], method: 'POST' | 'DELETE', read: string, body?: unknown) => {
      const ifMatch = (await call(a, 'GET', read, { token })).headers.etag as string;
      const answers = await Promise.all([
        call(a, method, paths[0], { token, ifMatch, ...(body === undefined ? {} : { body }) }),
        call(racer, method, paths[1], { token, ifMatch, ...(body === undefined ? {} : { body }) }),
      ]);
      return answers.map((answer) => answer.status).sort();
    };
    expect(await race([`/grants/${grantId}`, `/grants/${grantId}`], 'DELETE', `/grants/${grantId}`)).toEqual([
      204, 412,
    ]);
    // A session ended is no longer found: the loser that reads it after the end gets 404 instead.
    const ended = await race([`/sessions/${sid}`, `/sessions/${sid}`], 'DELETE', `/sessions/${sid}`);
    expect(ended[0]).toBe(204);
    expect([404, 412]).toContain(ended[1]);
    const password = { password: 'a new password of some length' };
    const user = `/users/${sub}`;
    expect(await race([`${user}/password`, `${user}/password`], 'POST', user, password)).toEqual([200, 412]);
    expect(await race([`${user}/disable`, `${user}/disable`], 'POST', user)).toEqual([200, 412]);
    await call(a, 'POST', '/clients', { token, body: { ...shop, clientId: 'raced' } });
    const raced = '/clients/raced';
    expect(await race([`${raced}/disable`, `${raced}/secret`], 'POST', raced, {})).toEqual([200, 412]);
  });
});

describe('disabling clients over the admin API', () => {
  const server = useServer(adminConfig());

  it('needs If-Match, refuses clients of the config file (409) and unknown fields', async () => {
    const token = await operatorToken(server);
    await call(server, 'POST', '/clients', { token, body: { ...shop, clientId: 'kiosk' } });
    expectProblem(
      await call(server, 'POST', '/clients/kiosk/disable', { token }),
      428,
      'precondition_required',
    );
    expectProblem(
      await call(server, 'POST', '/clients/kiosk/disable', { token, ifMatch: '"stale"' }),
      412,
      'precondition_failed',
    );
    const ifMatch = (await call(server, 'GET', '/clients/kiosk', { token })).headers.etag as string;
    expectProblem(
      await call(server, 'POST', '/clients/kiosk/disable', { token, ifMatch, body: { revokeGrants: 'yes' } }),
      400,
      'invalid_request',
    );
    expectProblem(
      await call(server, 'POST', '/clients/kiosk/enable', { token, ifMatch, body: { revokeGrants: true } }),
      400,
      'invalid_request',
    );
    expectProblem(
      await call(server, 'POST', '/clients/unknown/disable', { token, ifMatch: '*' }),
      404,
      'not_found',
    );
    expectProblem(
      await changeWithTag(server, token, 'POST', '/clients/web-app/disable', '/clients/web-app'),
      409,
      'conflict',
    );
    // A replacement keeps the client disabled; the answer and the tag show it.
    const disabled = await call(server, 'POST', '/clients/kiosk/disable', { token, ifMatch });
    expect(disabled.status).toBe(200);
    // A replacement (read-only fields ignored) keeps the client disabled; the answer shows it.
    const replaced = await call(server, 'PUT', '/clients/kiosk', {
      token,
      ifMatch: disabled.headers.etag as string,
      body: { ...disabled.body, name: 'Kiosk', disabledAt: null },
    });
    expect(replaced.status).toBe(200);
    expect((replaced.body.client as Record<string, unknown>).disabledAt).toBe(disabled.body.disabledAt);
    // A secret rotation's overlap must be a number of seconds, named as the field at fault.
    const rotation = await call(server, 'POST', '/clients/kiosk/secret', {
      token,
      ifMatch: replaced.headers.etag as string,
      body: { overlap: '1h' },
    });
    expectProblem(rotation, 400, 'invalid_request');
    expect(rotation.body.errors).toEqual([
      { field: 'overlap', message: expect.stringMatching(/whole number/) },
    ]);
  });
});

describe('certificate clients over the admin API', () => {
  const server = useServer(adminConfig());

  it('are refused while the server cannot see client certificates, as in the config file', async () => {
    const token = await operatorToken(server);
    const certificateClient = {
      clientId: 'meter',
      name: 'Meter',
      grantTypes: ['client_credentials'],
      scopes: ['orders.read'],
      tokenEndpointAuthMethod: 'tls_client_auth',
      tlsClientAuthSubjectDn: 'CN=meter',
    };
    const refused = await call(server, 'POST', '/clients', { token, body: certificateClient });
    expectProblem(refused, 400, 'invalid_request');
    expect(refused.body.errors).toEqual([
      {
        field: 'tokenEndpointAuthMethod',
        message: 'client certificates need server.tls or mtls.trustedProxyHeader',
      },
      {
        field: 'tokenEndpointAuthMethod',
        message: 'tls_client_auth needs mtls.ca (the CAs that issue client certificates)',
      },
    ]);
    const secretClient = { ...shop, clientId: 'bound' };
    expect((await call(server, 'POST', '/clients', { token, body: secretClient })).status).toBe(201);
    const ifMatch = (await call(server, 'GET', '/clients/bound', { token })).headers.etag as string;
    const bound = await call(server, 'PUT', '/clients/bound', {
      token,
      ifMatch,
      body: { ...secretClient, tlsClientCertificateBoundAccessTokens: true },
    });
    expectProblem(bound, 400, 'invalid_request');
    expect(bound.body.errors).toEqual([
      {
        field: 'tokenEndpointAuthMethod',
        message: 'client certificates need server.tls or mtls.trustedProxyHeader',
      },
    ]);
  });
});

describe('admin API rate limits', () => {
  const server = useServer(
    adminConfig({
      rateLimits: { adminPerIp: { limit: 6, window: 60 }, adminPerOperator: { limit: 3, window: 60 } },
    }),
  );

  it('answer 429 problem details with Retry-After, per operator and per address', async () => {
    const token = await operatorToken(server);
    const reader = await operatorToken(server, 'reader', readerSecret);
    for (let count = 0; count < 3; count++)
      expect((await call(server, 'GET', '/clients', { token })).status).toBe(200);
    const limited = await call(server, 'GET', '/clients', { token });
    expectProblem(limited, 429, 'temporarily_unavailable');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another operator has its own budget, until the address's is spent (six requests in all).
    for (let count = 0; count < 2; count++)
      expect((await call(server, 'GET', '/clients', { token: reader })).status).toBe(200);
    expectProblem(await call(server, 'GET', '/clients', { token: reader }), 429, 'temporarily_unavailable');
    expectProblem(await call(server, 'GET', '/openapi.json'), 429, 'temporarily_unavailable');
    server.clock.advance(61);
    expect((await call(server, 'GET', '/clients', { token })).status).toBe(200);
  });
});
