/**
 * The examples against a real Gatehouse server: the worker calls an orders API stand-in (node:http that
 * verifies the access token with Gatehouse's JWKS through jose), the native app signs in through its
 * loopback listener, calls userinfo, reuses its session and signs out.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNativeApp } from '../../../examples/native-app/src/app.ts';
import { settingsFromEnvironment } from '../../../examples/worker/src/settings.ts';
import { createOrdersWorker } from '../../../examples/worker/src/worker.ts';
import { MemorySessionStore } from '../src/index.ts';
import { FetchBrowser, type RunningGatehouse, serviceSecret, startGatehouse } from './support/gatehouse.ts';
import { json, type LocalServer, startLocalServer } from './support/local-server.ts';

let gatehouse: RunningGatehouse;
let ordersApi: LocalServer;

beforeAll(async () => {
  gatehouse = await startGatehouse();
  const jwks = createRemoteJWKSet(new URL(`${gatehouse.issuer}/jwks`));
  ordersApi = await startLocalServer(async (request, _body, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    try {
      const { payload } = await jwtVerify(token ?? '', jwks, {
        issuer: gatehouse.issuer,
        audience: 'orders-api',
      });
      if (!String(payload.scope).split(' ').includes('orders.read')) throw new Error('scope');
      json(response, 200, { orders: [{ id: 1 }], client: payload.client_id });
    } catch {
      response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
    }
  });
});

afterAll(async () => {
  await ordersApi?.close();
  await gatehouse?.close();
});

describe('examples/worker', () => {
  it('reads its settings from the environment, defaulting to the demo', () => {
    expect(settingsFromEnvironment({})).toMatchObject({
      issuer: 'http://localhost:3000',
      clientId: 'service-a',
      ordersApiUrl: 'http://localhost:4000',
      ordersResource: 'http://localhost:4000',
    });
    expect(() => settingsFromEnvironment({ WORKER_INTERVAL: '0' })).toThrow(/WORKER_INTERVAL/);
  });

  it('calls the orders API with a cached client-credentials token', async () => {
    const settings = settingsFromEnvironment({
      GATEHOUSE_ISSUER: gatehouse.issuer,
      WORKER_CLIENT_SECRET: serviceSecret,
      ORDERS_API_URL: ordersApi.url,
      ORDERS_RESOURCE: 'https://api.example.com/orders',
    });
    const worker = createOrdersWorker(settings);
    const before = gatehouse.count('POST /token');
    for (let call = 0; call < 3; call++) {
      expect(await worker.listOrders()).toEqual({ orders: [{ id: 1 }], client: 'service-a' });
    }
    expect(gatehouse.count('POST /token') - before).toBe(1);
  });
});

describe('examples/native-app', () => {
  it('signs in through the loopback redirect, reuses the session, signs out', async () => {
    const app = createNativeApp(
      {
        issuer: gatehouse.issuer,
        clientId: 'native-app',
        scope: 'openid profile offline_access',
        sessionFile: '',
      },
      new MemorySessionStore(),
    );
    let browserOpened = 0;
    const openBrowser = async (url: string) => {
      browserOpened += 1;
      const { location } = await new FetchBrowser(gatehouse.issuer).walk(url);
      await (await fetch(location)).text();
    };
    await app.signIn(openBrowser);
    expect(await app.profile()).toMatchObject({ name: 'Alice Smith' });
    await app.signIn(openBrowser);
    expect(browserOpened).toBe(1);
    await app.signOut();
    await app.signIn(openBrowser);
    expect(browserOpened).toBe(2);
  });
});
