/**
 * The client's CIBA (OpenID Connect CIBA Core 1.0) against a real Gatehouse server over a real port: poll
 * mode with `slow_down` handling (the server's own answer to polls that come too soon), the user approving
 * on Gatehouse's approval page over HTTP from the link its webhook notifier sent, and ping mode's one
 * token request after the ping arrived at the application's receiver.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cibaGrant, testClients } from '../../server/test/helpers.ts';
import { GatehouseClientError, OAuthClient, OAuthResponseError } from '../src/index.ts';
import {
  FetchBrowser,
  password,
  type RunningGatehouse,
  startGatehouse,
  testClock,
} from './support/gatehouse.ts';

const tellerSecret = 'teller-client-secret-0123456789-abcdefghijklmnop';
const notificationToken = 'teller-notification-token-0123456789-abcdefghij';

let gatehouse: RunningGatehouse;
let receiver: ReturnType<typeof createServer>;
const received: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hooks = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  gatehouse = await startGatehouse({
    ciba: { notifier: { webhookUrl: `${hooks}/webhook` }, allowPrivateAddresses: true },
    clients: [
      ...testClients(),
      {
        clientId: 'teller',
        name: 'Teller',
        secret: tellerSecret,
        grantTypes: [cibaGrant],
        scopes: ['openid', 'profile'],
        backchannelTokenDeliveryMode: 'poll',
      },
      {
        clientId: 'teller-ping',
        name: 'Teller (ping)',
        secret: tellerSecret,
        grantTypes: [cibaGrant],
        scopes: ['openid'],
        backchannelTokenDeliveryMode: 'ping',
        backchannelClientNotificationEndpoint: `${hooks}/ping`,
      },
    ],
  });
});

afterAll(async () => {
  await gatehouse?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function until<T>(find: () => T | undefined): Promise<T> {
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The customer opens the webhook's newest approval link, signs in and approves. */
async function approveLatest(count: number): Promise<void> {
  const webhook = await until(() => received.filter((request) => request.path === '/webhook')[count - 1]);
  const link = decodeJwt(webhook.body).approval_url as string;
  const browser = new FetchBrowser(gatehouse.issuer);
  const formOf = (html: string) => ({
    action: new URL(/action="([^"]+)"/.exec(html)![1]!, gatehouse.issuer).href,
    csrf: /name="csrf" value="([^"]+)"/.exec(html)![1]!,
    token: /name="token" value="([^"]+)"/.exec(html)![1]!,
  });
  const signIn = formOf(await (await browser.get(link)).text());
  const signedIn = await browser.post(signIn.action, { ...signIn, username: 'alice', password });
  const confirm = formOf(
    await (await browser.get(new URL(signedIn.headers.get('location')!, gatehouse.issuer).href)).text(),
  );
  const done = await browser.post(confirm.action, { ...confirm, decision: 'approve' });
  expect(done.status).toBe(200);
}

function teller(clientId = 'teller', clock?: () => number): OAuthClient {
  return new OAuthClient({
    issuer: gatehouse.issuer,
    clientId,
    clientAuthentication: { method: 'client_secret_basic', clientSecret: tellerSecret },
    ...(clock ? { clock } : {}),
  });
}

describe('CIBA', () => {
  it('poll mode: starts, slows down when told, and gets tokens once the customer approves', async () => {
    const clock = testClock();
    const client = teller('teller', clock);
    const started = await client.startBackchannelAuthentication({
      scope: 'openid profile',
      loginHint: 'alice',
      bindingMessage: 'Withdraw 200 EUR',
    });
    expect(started).toMatchObject({ expiresIn: 300, interval: 5 });
    const waits: number[] = [];
    const tokens = await client.pollBackchannelAuthentication(started, {
      // No real waiting: the server sees the second poll come too soon and answers slow_down.
      sleep: async (milliseconds) => {
        waits.push(milliseconds);
        clock.advance(milliseconds / 1000);
        if (waits.length === 3) await approveLatest(1);
      },
    });
    expect(waits).toEqual([5000, 5000, 10000]);
    expect(tokens.claims?.aud).toContain('teller');
    expect(gatehouse.count('POST /token')).toBe(3);
  });

  it('poll mode: stops with auth_req_id_expired when the request outlives its expiry', async () => {
    const clock = testClock();
    const client = teller('teller', clock);
    const started = await client.startBackchannelAuthentication({
      scope: 'openid',
      loginHint: 'alice',
      requestedExpiry: 40,
    });
    const polling = client.pollBackchannelAuthentication(started, {
      sleep: async (milliseconds) => clock.advance(milliseconds / 1000),
    });
    await expect(polling).rejects.toMatchObject({ code: 'auth_req_id_expired' });
    await expect(polling).rejects.toBeInstanceOf(GatehouseClientError);
  });

  it('ping mode: one token request after the ping arrived', async () => {
    const client = teller('teller-ping');
    const started = await client.startBackchannelAuthentication({
      scope: 'openid',
      loginHint: 'alice',
      clientNotificationToken: notificationToken,
    });
    const early = client.redeemBackchannelAuthentication(started.authReqId);
    await expect(early).rejects.toBeInstanceOf(OAuthResponseError);
    await expect(early).rejects.toMatchObject({ error: 'authorization_pending' });
    await approveLatest(3);
    const ping = await until(() => received.find((request) => request.path === '/ping'));
    expect(ping.headers.authorization).toBe(`Bearer ${notificationToken}`);
    expect(JSON.parse(ping.body).auth_req_id).toBe(started.authReqId);
    const tokens = await client.redeemBackchannelAuthentication(started.authReqId);
    expect(tokens.claims?.aud).toContain('teller-ping');
  });
});
