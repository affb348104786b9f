/**
 * The examples against a real Gatehouse server: the worker calls the real orders API example
 * (examples/orders-api on @gatehouse/resource, listening on a loopback port); the native app signs in
 * through its loopback listener, calls userinfo, reuses its session and signs out.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNativeApp } from '../../../examples/native-app/src/app.ts';
import { createOrdersApp } from '../../../examples/orders-api/src/app.ts';
import { settingsFromEnvironment } from '../../../examples/worker/src/settings.ts';
import { createOrdersWorker } from '../../../examples/worker/src/worker.ts';
import { MemorySessionStore } from '../src/index.ts';
import { FetchBrowser, type RunningGatehouse, serviceSecret, startGatehouse } from './support/gatehouse.ts';

let gatehouse: RunningGatehouse;
let ordersApi: Server;
let ordersApiUrl: string;

beforeAll(async () => {
  gatehouse = await startGatehouse();
  const app = createOrdersApp({
    verifier: { issuer: gatehouse.issuer, audience: 'orders-api' },
    allowedOrigins: [],
  });
  ordersApi = await new Promise<Server>((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
  ordersApiUrl = `http://127.0.0.1:${(ordersApi.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    if (ordersApi === undefined) return resolve();
    ordersApi.close(() => resolve());
    ordersApi.closeAllConnections();
  });
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
    expect(settingsFromEnvironment({ ORDERS_RESOURCE: '' }).ordersResource).toBeUndefined();
    expect(() => settingsFromEnvironment({ WORKER_INTERVAL: '0' })).toThrow(/WORKER_INTERVAL/);
  });

  it('calls the orders API with a cached client-credentials token', async () => {
    const settings = settingsFromEnvironment({
      GATEHOUSE_ISSUER: gatehouse.issuer,
      WORKER_CLIENT_SECRET: serviceSecret,
      ORDERS_API_URL: ordersApiUrl,
      ORDERS_RESOURCE: 'https://api.example.com/orders',
    });
    const worker = createOrdersWorker(settings);
    const before = gatehouse.count('POST /token');
    for (let call = 0; call < 3; call++) {
      expect(await worker.listOrders()).toEqual({ orders: [] });
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
