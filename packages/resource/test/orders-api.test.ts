/**
 * The orders API example (examples/orders-api) on a real port, against the real Gatehouse server with
 * the seed's orders scopes: list, create, cancel and admin with users' tokens from the code flow, the
 * OrderAdmin role, and CORS for registered origins only.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrdersApp } from '../../../examples/orders-api/src/app.ts';
import { hotp } from '../../server/src/authn/totp.ts';
import { testConfig } from '../../server/test/helpers.ts';
import { type ListeningServer, startListening } from '../../server/test/interop-helpers.ts';
import { userToken } from './gatehouse-support.ts';
import { closeServer, listenOnLoopback } from './support.ts';

const ordersScopes = ['orders.read', 'orders.write', 'orders.cancel', 'orders.admin'];
const origin = 'http://localhost:5173';
let gatehouse: ListeningServer;
let api: Server;
let apiUrl: string;

beforeAll(async () => {
  const defaults = testConfig();
  const clients = (defaults.clients as Record<string, unknown>[]).map((client) =>
    client.clientId === 'web-app'
      ? { ...client, scopes: ['openid', 'profile', 'roles', ...ordersScopes] }
      : client,
  );
  gatehouse = await startListening({
    apiScopes: [
      ...ordersScopes.map((name) => ({ name, description: name })),
      { name: 'api1.read', description: 'Read API 1' },
    ],
    apiResources: [
      { id: 'orders-api', uris: ['http://localhost:4000'], scopes: ordersScopes },
      { id: 'api1', uris: ['https://api1.example.com'], scopes: ['api1.read'] },
    ],
    clients,
  });
  api = createServer(
    createOrdersApp({
      verifier: { issuer: gatehouse.issuer, audience: 'orders-api', logger: false },
      allowedOrigins: [origin],
    }),
  );
  apiUrl = `http://127.0.0.1:${await listenOnLoopback(api)}`;
});

afterAll(async () => {
  await closeServer(api);
  await gatehouse.close();
});

const call = (method: string, path: string, token?: string, body?: unknown) =>
  fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('orders API example', () => {
  it('lists, creates and cancels the caller’s own orders with the matching scopes', async () => {
    const alice = await userToken(gatehouse.issuer, 'openid orders.read orders.write orders.cancel', 'alice');
    const bob = await userToken(gatehouse.issuer, 'openid orders.read orders.write', 'bob');

    const created = await call('POST', '/orders', alice, { item: 'book', quantity: 2 });
    expect(created.status).toBe(201);
    const order = (await created.json()) as { id: string; owner: string };
    expect(order.owner).toMatch(/^[A-Za-z0-9_-]{8,}$/);

    expect(
      ((await (await call('GET', '/orders', alice)).json()) as { orders: unknown[] }).orders,
    ).toHaveLength(1);
    expect(((await (await call('GET', '/orders', bob)).json()) as { orders: unknown[] }).orders).toHaveLength(
      0,
    );

    const bobCancels = await call('POST', `/orders/${order.id}/cancel`, bob);
    expect(bobCancels.status).toBe(403);
    expect(bobCancels.headers.get('www-authenticate')).toContain('scope="orders.cancel"');

    const cancelled = await call('POST', `/orders/${order.id}/cancel`, alice);
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as { status: string }).status).toBe('cancelled');
    expect((await call('POST', '/orders', alice, { item: '' })).status).toBe(400);
  });

  it('lets only OrderAdmin with orders.admin see every order', async () => {
    const admin = await userToken(gatehouse.issuer, 'openid roles orders.admin', 'alice');
    expect((await call('GET', '/admin/orders', admin)).status).toBe(200);
    const scopeOnly = await userToken(gatehouse.issuer, 'openid orders.admin', 'alice');
    const noRole = await call('GET', '/admin/orders', scopeOnly);
    expect(noRole.status).toBe(403);
    expect(noRole.headers.get('www-authenticate')).toContain('the role OrderAdmin is required');
    const bob = await userToken(gatehouse.issuer, 'openid roles orders.admin', 'bob');
    expect((await call('GET', '/admin/orders', bob)).status).toBe(403);
    const readOnly = await userToken(gatehouse.issuer, 'openid roles orders.read', 'alice');
    expect((await call('GET', '/admin/orders', readOnly)).status).toBe(403);
  });

  it('answers CORS for registered origins only', async () => {
    const preflight = (from: string) =>
      fetch(`${apiUrl}/orders`, {
        method: 'OPTIONS',
        headers: {
          origin: from,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await preflight(origin);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
    expect(allowed.headers.get('access-control-allow-headers')).toContain('Authorization');
    const foreign = await preflight('https://evil.example');
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();

    const refused = await fetch(`${apiUrl}/orders`, { headers: { origin } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(origin);
    expect(refused.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    const fromElsewhere = await fetch(`${apiUrl}/orders`, { headers: { origin: 'https://evil.example' } });
    expect(fromElsewhere.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('needs no token for the health check', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
  });
});

describe('orders API example with step-up for cancelling (RFC 9470)', () => {
  it('answers a password-only token 401 insufficient_user_authentication, and cancels with an mfa token', async () => {
    const stepUpApi = createServer(
      createOrdersApp({
        verifier: { issuer: gatehouse.issuer, audience: 'orders-api', logger: false },
        allowedOrigins: [origin],
        cancelAcr: ['urn:gatehouse:acr:mfa'],
      }),
    );
    const url = `http://127.0.0.1:${await listenOnLoopback(stepUpApi)}`;
    try {
      const scope = 'openid orders.write orders.cancel';
      const password = await userToken(gatehouse.issuer, scope, 'bob');
      const created = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${password}`, 'content-type': 'application/json' },
        body: JSON.stringify({ item: 'lamp' }),
      });
      const order = (await created.json()) as { id: string };
      const refused = await fetch(`${url}/orders/${order.id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${password}` },
      });
      expect(refused.status).toBe(401);
      const challenge = refused.headers.get('www-authenticate') ?? '';
      expect(challenge).toContain('error="insufficient_user_authentication"');
      expect(challenge).toContain('acr_values="urn:gatehouse:acr:mfa"');

      const secondFactor = (html: string) => {
        const secret = /<code id="totp-secret">([^<]+)<\/code>/.exec(html)?.[1]?.replace(/\s/g, '') ?? '';
        return { code: hotp(secret, Math.floor(Date.now() / 1000 / 30)) };
      };
      const strong = await userToken(gatehouse.issuer, scope, 'bob', {
        extra: { acr_values: 'urn:gatehouse:acr:mfa' },
        secondFactor,
      });
      const cancelled = await fetch(`${url}/orders/${order.id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${strong}` },
      });
      expect(cancelled.status).toBe(200);
    } finally {
      await closeServer(stepUpApi);
    }
  });
});
