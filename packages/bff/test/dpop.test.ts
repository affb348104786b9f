/**
 * DPoP-bound tokens (RFC 9449) and pushed authorization requests (RFC 9126) through the BFF: against
 * oidc-provider (a certified OpenID Provider that offers both), and against Gatehouse with the orders API
 * example configured to require DPoP.
 * The BFF signs in with PAR, receives `DPoP` tokens bound to its key, reads UserInfo with a proof, and the
 * proxy sends each upstream call with `Authorization: DPoP` and a fresh proof whose `htm`, `htu` and
 * `ath` the test verifies, bound (per the provider's introspection) to the BFF's key.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { dpopThumbprint, generateDPoPKey } from '@gatehouse/client';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  introspect,
  type RunningProvider,
  startProvider,
  walkProvider,
} from '../../client/test/support/oidc-provider.ts';
import { type Bff, createBff } from '../src/index.ts';
import * as support from './support.ts';

const clientSecret = 'bff-provider-secret-0123456789-abcdefghijkl';
let provider: RunningProvider;
let upstream: support.TestUpstream;
let bff: Bff;
let server: Server;
let origin: string;
const key = await generateDPoPKey();

beforeAll(async () => {
  const port = await support.freePort();
  origin = `http://localhost:${port}`;
  upstream = await support.startUpstream();
  provider = await startProvider({
    extraClients: [
      {
        client_id: 'bff',
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [`${origin}/bff/callback`],
        dpop_bound_access_tokens: true,
      },
    ],
  });
  bff = createBff(
    support.bffOptions(provider.issuer, origin, {
      clientAuthentication: { method: 'client_secret_basic', clientSecret },
      scope: 'openid profile offline_access',
      apis: { echo: { url: `${upstream.url}/base` } },
      dpop: key,
    }),
  );
  server = await support.serveBff(bff, port);
});

afterAll(async () => {
  await support.closeServer(server);
  await bff?.close();
  await upstream?.close();
  await provider?.close();
});

describe('DPoP through the BFF (oidc-provider)', () => {
  it('signs in with PAR, gets DPoP-bound tokens and sends a valid proof with every upstream call', async () => {
    const browser = new support.BffBrowser(origin);
    const pushes = provider.count('POST /request');
    const login = await browser.fetch('/bff/login', { csrf: false });
    expect(login.status).toBe(302);
    expect(provider.count('POST /request') - pushes).toBe(1);
    const authorize = new URL(login.headers.get('location')!);
    expect([...authorize.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const callback = await browser.fetch(await walkProvider(provider.issuer, authorize), { csrf: false });
    expect(callback.status).toBe(302);

    const user = await browser.fetch('/bff/user');
    expect(user.status).toBe(200);
    expect(await user.json()).toMatchObject({ sub: 'alice', claims: { name: 'Alice Smith' } });

    for (const path of ['/bff/api/echo/items?x=1', '/bff/api/echo/other']) {
      expect((await browser.fetch(path, { method: 'POST', body: 'hello' })).status).toBe(200);
      const hit = upstream.hits.at(-1)!;
      const authorization = String(hit.headers.authorization);
      expect(authorization).toMatch(/^DPoP /);
      const token = authorization.slice('DPoP '.length);
      const proof = String(hit.headers.dpop);
      expect(decodeProtectedHeader(proof).typ).toBe('dpop+jwt');
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
      expect(payload.htm).toBe('POST');
      expect(payload.htu).toBe(`${upstream.url}/base${path.slice('/bff/api/echo'.length).split('?')[0]}`);
      expect(payload.ath).toBe(createHash('sha256').update(token).digest('base64url'));
      expect(payload.jti).toBeTypeOf('string');
      const thumbprint = await calculateJwkThumbprint(protectedHeader.jwk as JWK);
      expect(thumbprint).toBe(await dpopThumbprint(key));

      const body = await introspect(provider.issuer, 'bff', clientSecret, token);
      expect(body.active).toBe(true);
      expect(body.cnf?.jkt).toBe(thumbprint);
    }
    const proofs = upstream.hits.slice(-2).map((hit) => String(hit.headers.dpop));
    expect(proofs[0]).not.toBe(proofs[1]);
  });
});

describe('DPoP through the BFF (Gatehouse and the orders API requiring DPoP)', () => {
  const clock = support.testClock();
  let gatehouse: support.RunningGatehouse;
  let orders: Server;
  let ordersUrl: string;
  const servers: Server[] = [];
  const bffsToClose: Bff[] = [];
  let boundOrigin: string;
  let bearerOrigin: string;
  let boundKey: Awaited<ReturnType<typeof generateDPoPKey>>;

  beforeAll(async () => {
    const [boundPort, bearerPort, ordersPort] = [
      await support.freePort(),
      await support.freePort(),
      await support.freePort(),
    ];
    boundOrigin = `http://localhost:${boundPort}`;
    bearerOrigin = `http://localhost:${bearerPort}`;
    ordersUrl = `http://127.0.0.1:${ordersPort}`;
    boundKey = await generateDPoPKey();
    gatehouse = await support.startGatehouse({ bffOrigins: [boundOrigin, bearerOrigin], ordersUrl, clock });
    orders = await support.startOrdersApi(gatehouse.issuer, ordersPort, clock, { required: true });
    for (const [origin, port, dpop] of [
      [boundOrigin, boundPort, boundKey],
      [bearerOrigin, bearerPort, undefined],
    ] as const) {
      const instance = createBff(
        support.bffOptions(gatehouse.issuer, origin, {
          clientAuthentication: { method: 'client_secret_basic', clientSecret: support.bffSecret },
          scope: 'openid profile offline_access orders.read',
          apis: { orders: { url: ordersUrl, scopes: ['orders.read'] } },
          clock,
          ...(dpop === undefined ? {} : { dpop }),
        }),
      );
      bffsToClose.push(instance);
      servers.push(await support.serveBff(instance, port));
    }
  });

  afterAll(async () => {
    for (const listening of [...servers, orders]) await support.closeServer(listening);
    for (const instance of bffsToClose) await instance.close();
    await gatehouse?.close();
  });

  it('gets DPoP-bound tokens from Gatehouse and calls the API with proofs, also after a refresh', async () => {
    const browser = new support.BffBrowser(boundOrigin);
    expect((await browser.signIn(gatehouse.issuer)).callback.status).toBe(302);
    const user = await browser.fetch('/bff/user');
    expect(user.status).toBe(200);
    expect(await user.json()).toMatchObject({ claims: { name: 'Alice Smith' } });
    const list = await browser.fetch('/bff/api/orders/orders');
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ orders: [] });
    const accessTokens = [...gatehouse.issuedTokens].filter(
      (token) => token.split('.').length === 3 && decodeProtectedHeader(token).typ === 'at+jwt',
    );
    const claims = JSON.parse(Buffer.from(accessTokens.at(-1)!.split('.')[1]!, 'base64url').toString()) as {
      cnf?: { jkt?: string };
    };
    expect(claims.cnf?.jkt).toBe(await dpopThumbprint(boundKey));
    clock.advance(601);
    const refreshes = gatehouse.count('POST /token');
    expect((await browser.fetch('/bff/api/orders/orders')).status).toBe(200);
    expect(gatehouse.count('POST /token') - refreshes).toBe(1);
  });

  it('shows the API refusing a Bearer token where it requires DPoP (a BFF without a key)', async () => {
    const browser = new support.BffBrowser(bearerOrigin);
    expect((await browser.signIn(gatehouse.issuer)).callback.status).toBe(302);
    const list = await browser.fetch('/bff/api/orders/orders');
    expect(list.status).toBe(401);
    expect(list.headers.get('www-authenticate')).toMatch(/^DPoP/);
  });
});
