/**
 * Token manager timing with a controllable clock against a local token endpoint: the renewal lead is
 * capped for short-lived tokens, a failed early renewal keeps the still-valid token, a failure after
 * expiry surfaces, a missing expires_in gets the default lifetime; session stores (memory, file).
 */
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSessionStore, GatehouseClientError, LoginRequiredError, TokenManager } from '../src/index.ts';
import { testClock } from './support/gatehouse.ts';
import { closeLocalServers, json, serviceClient, startLocalServer } from './support/local-server.ts';

afterEach(closeLocalServers);

async function tokenServer(
  answer: (index: number, form: URLSearchParams) => { status: number; body: unknown },
) {
  let requests = 0;
  const server = await startLocalServer((_request, body, response) => {
    const { status, body: payload } = answer(requests, new URLSearchParams(body));
    requests += 1;
    json(response, status, payload);
  });
  const clock = testClock();
  const client = serviceClient(server.url, {
    metadata: {
      issuer: server.url,
      token_endpoint: `${server.url}/token`,
      revocation_endpoint: `${server.url}/revoke`,
    },
    clock,
  });
  return { client, clock, requests: () => requests };
}

describe('client-credentials timing', () => {
  it('renews a short-lived token at half its lifetime at the latest', async () => {
    const { client, clock, requests } = await tokenServer((index) => ({
      status: 200,
      body: { access_token: `t${index}`, token_type: 'Bearer', expires_in: 40 },
    }));
    const manager = new TokenManager(client, { random: () => 0.99 });
    await manager.clientCredentialsToken();
    clock.advance(19);
    expect((await manager.clientCredentialsToken()).value).toBe('t0');
    clock.advance(1);
    expect((await manager.clientCredentialsToken()).value).toBe('t1');
    expect(requests()).toBe(2);
  });

  it('keeps the cached token when an early renewal fails, and fails once it has expired', async () => {
    const { client, clock } = await tokenServer((index) =>
      index === 0
        ? { status: 200, body: { access_token: 't0', token_type: 'Bearer', expires_in: 300 } }
        : { status: 503, body: { error: 'temporarily_unavailable' } },
    );
    const manager = new TokenManager(client, { random: () => 0 });
    await manager.clientCredentialsToken();
    clock.advance(280);
    expect((await manager.clientCredentialsToken()).value).toBe('t0');
    clock.advance(20);
    await expect(manager.clientCredentialsToken()).rejects.toMatchObject({
      error: 'temporarily_unavailable',
    });
  });

  it('assumes the default lifetime when expires_in is missing', async () => {
    const { client, clock, requests } = await tokenServer((index) => ({
      status: 200,
      body: { access_token: `t${index}`, token_type: 'Bearer' },
    }));
    const manager = new TokenManager(client, { random: () => 0, defaultLifetime: 120 });
    expect((await manager.clientCredentialsToken()).expiresAt).toBe(clock() + 120);
    clock.advance(89);
    await manager.clientCredentialsToken();
    expect(requests()).toBe(1);
    clock.advance(1);
    await manager.clientCredentialsToken();
    expect(requests()).toBe(2);
  });
});

describe('waiting callers', () => {
  it('lets one caller stop waiting without cancelling the shared request', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let requests = 0;
    const server = await startLocalServer(async (_request, _body, response) => {
      requests += 1;
      await released;
      json(response, 200, { access_token: 'shared', token_type: 'Bearer', expires_in: 300 });
    });
    const manager = new TokenManager(serviceClient(server.url));
    const controller = new AbortController();
    const impatient = manager.clientCredentialsToken({ signal: controller.signal });
    const patient = manager.clientCredentialsToken();
    controller.abort();
    await expect(impatient).rejects.toMatchObject({ code: 'aborted' });
    release();
    expect((await patient).value).toBe('shared');
    expect(requests).toBe(1);
  });
});

describe('user sessions', () => {
  it('throws login required without a session', async () => {
    const { client } = await tokenServer(() => ({ status: 500, body: {} }));
    await expect(new TokenManager(client).userAccessToken()).rejects.toBeInstanceOf(LoginRequiredError);
  });

  it('keeps the old refresh token when the server does not rotate, and surfaces a network failure after expiry', async () => {
    const { client, clock } = await tokenServer((index, form) =>
      index === 0
        ? {
            status: 200,
            body: {
              access_token: 'a1',
              token_type: 'Bearer',
              expires_in: 300,
              form: form.get('refresh_token'),
            },
          }
        : { status: 502, body: { error: 'bad_gateway_error' } },
    );
    const manager = new TokenManager(client, { random: () => 0 });
    await manager.startSession({
      accessToken: 'a0',
      tokenType: 'Bearer',
      expiresAt: clock() + 300,
      refreshToken: 'r0',
      idToken: undefined,
      claims: undefined,
      scope: 'openid',
      issuedTokenType: undefined,
      raw: {},
    });
    clock.advance(270);
    expect((await manager.userAccessToken()).value).toBe('a1');
    expect((await manager.session())?.refreshToken).toBe('r0');
    clock.advance(300);
    const error = await manager.userAccessToken().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatehouseClientError);
    expect(error).not.toBeInstanceOf(LoginRequiredError);
    expect(await manager.session()).toBeDefined();
  });

  it('a file store writes the whole session atomically with owner-only permissions', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'gatehouse-client-')), 'nested', 'session.json');
    const store = new FileSessionStore(path);
    expect(await store.load()).toBeUndefined();
    const session = {
      accessToken: 'a',
      tokenType: 'Bearer',
      expiresAt: 2,
      renewAt: 1,
      refreshToken: 'r',
      idToken: undefined,
      scope: undefined,
    };
    await store.save(session);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ accessToken: 'a', refreshToken: 'r' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await store.save({ ...session, accessToken: 'b', refreshToken: 'r2' });
    expect(await store.load()).toMatchObject({ accessToken: 'b', refreshToken: 'r2' });
    await store.save(undefined);
    expect(await store.load()).toBeUndefined();
  });
});
