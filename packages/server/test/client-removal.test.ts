/**
 * A removed client's access tokens stop at once, at introspection and userinfo, JWT and opaque, with a grant
 * (a user's login) or without (client_credentials): removed from the store while a server runs (as the CLI
 * and other nodes do), and removed from the config file before a restart. (Removal by the CLI process and
 * across nodes: cli.test.ts, multi-node.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  apiSecret,
  basic,
  codeFlowTokens,
  introspectToken,
  opaqueApiResources,
  ordersApiAuth,
  serviceTokenRequest,
  startServer,
  type TestServer,
  testClients,
} from './helpers.ts';

const started: TestServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function start(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const server = await startServer({ apiResources: opaqueApiResources(), ...overrides });
  started.push(server);
  return server;
}

async function userinfoStatus(server: TestServer, token: string): Promise<number> {
  const response = await server.app.inject({
    url: '/userinfo',
    headers: { authorization: `Bearer ${token}` },
  });
  return response.statusCode;
}

async function introspectionActive(server: TestServer, token: string, resource: 'orders-api' | 'api1') {
  const authorization = resource === 'orders-api' ? ordersApiAuth : basic('api1', `${apiSecret}-api1`);
  const response = await introspectToken(server, token, authorization);
  expect(response.status).toBe(200);
  return response.body.active;
}

/** A user's JWT access token (web-app), and client_credentials tokens of service-a: JWT and opaque. */
async function tokensOf(server: TestServer) {
  const { tokens } = await codeFlowTokens(server, { scope: 'openid profile orders.read' });
  expect(tokens.status).toBe(200);
  const service = (resource: string) => serviceTokenRequest(server, { resource });
  const jwt = await service('https://api.example.com/orders');
  const opaque = await service('https://api1.example.com');
  expect([jwt.status, opaque.status]).toEqual([200, 200]);
  return {
    user: tokens.body.access_token as string,
    serviceJwt: jwt.body.access_token as string,
    serviceOpaque: opaque.body.access_token as string,
  };
}

async function expectActive(
  server: TestServer,
  tokens: Awaited<ReturnType<typeof tokensOf>>,
  active: boolean,
) {
  expect(await userinfoStatus(server, tokens.user)).toBe(active ? 200 : 401);
  expect(await introspectionActive(server, tokens.user, 'orders-api')).toBe(active);
  expect(await introspectionActive(server, tokens.serviceJwt, 'orders-api')).toBe(active);
  expect(await introspectionActive(server, tokens.serviceOpaque, 'api1')).toBe(active);
}

describe('removing a client', () => {
  it('stops its access tokens at once when it is removed from the store', async () => {
    const server = await start();
    const tokens = await tokensOf(server);
    await expectActive(server, tokens, true);
    // As `gatehouse client remove` does it, from outside the server's request path.
    await server.ctx.storage.transaction(async (repositories) => {
      for (const clientId of ['web-app', 'service-a']) {
        await repositories.clients.remove(clientId);
        await repositories.grants.revokeAllForClient(clientId, server.clock());
      }
    });
    await expectActive(server, tokens, false);
  });

  it('stops its access tokens when it is removed from the config file (restart)', async () => {
    const first = await start();
    const tokens = await tokensOf(first);
    await expectActive(first, tokens, true);
    await first.close();
    started.splice(started.indexOf(first), 1);

    const keepOthers = testClients().filter(
      (client) => client.clientId !== 'web-app' && client.clientId !== 'service-a',
    );
    const second = await start({ storage: first.config.storage, clients: keepOthers });
    second.clock.advance(first.clock() - second.clock());
    await expectActive(second, tokens, false);
  });
});
