/**
 * What the client puts on the wire, checked by a local server that parses and verifies it with jose:
 * client authentication (Basic form-encoding, post, none, private_key_jwt assertions), token exchange
 * (RFC 8693), DPoP proofs (RFC 9449), the authenticated fetch's retries, and device polling (RFC 8628).
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  accessTokenType,
  authenticatedFetch,
  formEncode,
  GatehouseClientError,
  generateDPoPKey,
  OAuthClient,
  OAuthResponseError,
  TokenManager,
} from '../src/index.ts';
import { testClock } from './support/gatehouse.ts';
import { closeLocalServers, json, serviceClient, startLocalServer } from './support/local-server.ts';

afterEach(closeLocalServers);

interface Seen {
  headers: Record<string, string | string[] | undefined>;
  form: URLSearchParams;
  url: string;
  method: string;
}

/** A token endpoint that records each request and answers with `answer(seen)`. */
async function recordingServer(
  answer: (seen: Seen, index: number) => { status: number; body: unknown; headers?: Record<string, string> },
) {
  const requests: Seen[] = [];
  const server = await startLocalServer((request, body, response) => {
    const seen = {
      headers: request.headers,
      form: new URLSearchParams(body),
      url: request.url!,
      method: request.method!,
    };
    requests.push(seen);
    const { status, body: payload, headers } = answer(seen, requests.length - 1);
    json(response, status, payload, headers);
  });
  return { url: server.url, requests };
}

const tokens = { access_token: 'at-1', token_type: 'Bearer', expires_in: 300 };

describe('client authentication', () => {
  it('client_secret_basic form-encodes id and secret before base64 (RFC 6749 §2.3.1)', async () => {
    const { url, requests } = await recordingServer(() => ({ status: 200, body: tokens }));
    const clientId = 'my client:1';
    const clientSecret = "p@ss w+rd:%/é!'()*~";
    await new OAuthClient({
      issuer: url,
      clientId,
      clientAuthentication: { method: 'client_secret_basic', clientSecret },
      metadata: { issuer: url, token_endpoint: `${url}/token` },
    }).clientCredentials();
    const header = String(requests[0]!.headers.authorization);
    const decoded = Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');
    const [id, secret] = decoded.split(':') as [string, string];
    expect(decoded.split(':')).toHaveLength(2);
    expect(id).toBe('my+client%3A1');
    expect(secret).toMatch(/^[A-Za-z0-9%+._~-]+$/);
    const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
    expect(formDecode(id)).toBe(clientId);
    expect(formDecode(secret)).toBe(clientSecret);
    expect(requests[0]!.form.get('client_secret')).toBeNull();
    expect(formEncode("a b!'()*")).toBe('a+b%21%27%28%29%2A');
  });

  it('client_secret_post sends id and secret in the body; none sends only the id', async () => {
    const { url, requests } = await recordingServer(() => ({ status: 200, body: tokens }));
    const metadata = { issuer: url, token_endpoint: `${url}/token` };
    await new OAuthClient({
      issuer: url,
      clientId: 'post',
      clientAuthentication: { method: 'client_secret_post', clientSecret: 's3cret' },
      metadata,
    }).clientCredentials();
    await new OAuthClient({ issuer: url, clientId: 'public', metadata }).refresh('rt-1');
    expect(requests[0]!.form.get('client_id')).toBe('post');
    expect(requests[0]!.form.get('client_secret')).toBe('s3cret');
    expect(requests[0]!.headers.authorization).toBeUndefined();
    expect(requests[1]!.form.get('client_id')).toBe('public');
    expect(requests[1]!.form.get('client_secret')).toBeNull();
    expect(requests[1]!.form.get('refresh_token')).toBe('rt-1');
    expect(requests[1]!.headers.authorization).toBeUndefined();
  });

  it('private_key_jwt sends a verifiable assertion with a fresh jti and a short exp per request', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256' };
    const { url, requests } = await recordingServer(() => ({ status: 200, body: tokens }));
    const clock = testClock();
    const client = new OAuthClient({
      issuer: url,
      clientId: 'jwt-client',
      clientAuthentication: { method: 'private_key_jwt', privateKey: jwk },
      metadata: { issuer: url, token_endpoint: `${url}/token` },
      clock,
    });
    await client.clientCredentials();
    await client.clientCredentials();
    const jtis = new Set<string>();
    for (const request of requests) {
      expect(request.form.get('client_assertion_type')).toBe(
        'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      );
      expect(request.headers.authorization).toBeUndefined();
      const assertion = request.form.get('client_assertion')!;
      expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: 'k1' });
      const { payload } = await jwtVerify(assertion, publicKey, {
        issuer: 'jwt-client',
        subject: 'jwt-client',
        audience: url,
        currentDate: new Date(clock() * 1000),
      });
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
      expect(payload.iat).toBe(clock());
      jtis.add(payload.jti!);
    }
    expect(jtis.size).toBe(2);
  });
});

describe('pushed authorization requests (RFC 9126)', () => {
  it('pushes the parameters with client authentication and sends only client_id and request_uri', async () => {
    const { url, requests } = await recordingServer(() => ({
      status: 201,
      body: { request_uri: 'urn:ietf:params:oauth:request_uri:abc', expires_in: 60 },
    }));
    const client = new OAuthClient({
      issuer: url,
      clientId: 'web',
      clientAuthentication: { method: 'client_secret_basic', clientSecret: 'secret' },
      redirectUri: 'https://rp.example.com/cb',
      par: 'never',
      metadata: {
        issuer: url,
        authorization_endpoint: `${url}/authorize`,
        pushed_authorization_request_endpoint: `${url}/par`,
        require_pushed_authorization_requests: true,
      },
    });
    const pending = await client.authorizationRequest({
      scope: 'openid',
      resource: 'https://api.example.com',
    });
    expect(pending.url.href).toBe(
      `${url}/authorize?client_id=web&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc`,
    );
    const form = requests[0]!.form;
    expect(requests[0]!.url).toBe('/par');
    expect(String(requests[0]!.headers.authorization)).toMatch(/^Basic /);
    expect(form.get('response_type')).toBe('code');
    expect(form.get('redirect_uri')).toBe('https://rp.example.com/cb');
    expect(form.get('state')).toBe(pending.state);
    expect(form.get('nonce')).toBe(pending.nonce);
    expect(form.get('code_challenge_method')).toBe('S256');
    expect(form.get('resource')).toBe('https://api.example.com');
  });

  it('refuses when PAR is required or asked for but the server has no PAR endpoint', async () => {
    const metadata = {
      issuer: 'https://as.example.com',
      authorization_endpoint: 'https://as.example.com/authorize',
    };
    const required = new OAuthClient({
      issuer: metadata.issuer,
      clientId: 'web',
      redirectUri: 'https://rp.example.com/cb',
      metadata: { ...metadata, require_pushed_authorization_requests: true },
    });
    await expect(required.authorizationRequest()).rejects.toMatchObject({ code: 'unsupported' });
    const always = new OAuthClient({
      issuer: metadata.issuer,
      clientId: 'web',
      redirectUri: 'https://rp.example.com/cb',
      par: 'always',
      metadata,
    });
    await expect(always.authorizationRequest()).rejects.toMatchObject({ code: 'unsupported' });
  });
});

describe('token exchange (RFC 8693)', () => {
  it('sends the exchange parameters and requires issued_token_type in the answer', async () => {
    let answerWithType = true;
    const { url, requests } = await recordingServer(() => ({
      status: 200,
      body: {
        access_token: 'exchanged',
        token_type: 'Bearer',
        expires_in: 60,
        ...(answerWithType ? { issued_token_type: accessTokenType } : {}),
      },
    }));
    const client = new OAuthClient({
      issuer: url,
      clientId: 'gateway',
      clientAuthentication: { method: 'client_secret_basic', clientSecret: 'secret' },
      metadata: { issuer: url, token_endpoint: `${url}/token` },
    });
    const exchanged = await client.tokenExchange({
      subjectToken: 'user-token',
      subjectTokenType: accessTokenType,
      actorToken: 'actor-token',
      actorTokenType: accessTokenType,
      requestedTokenType: accessTokenType,
      audience: ['orders-api', 'billing-api'],
      resource: 'https://api.example.com/orders',
      scope: 'orders.read',
    });
    expect(exchanged.issuedTokenType).toBe(accessTokenType);
    const form = requests[0]!.form;
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(form.get('subject_token')).toBe('user-token');
    expect(form.get('subject_token_type')).toBe(accessTokenType);
    expect(form.get('actor_token')).toBe('actor-token');
    expect(form.get('requested_token_type')).toBe(accessTokenType);
    expect(form.getAll('audience')).toEqual(['orders-api', 'billing-api']);
    expect(form.get('resource')).toBe('https://api.example.com/orders');
    expect(form.get('scope')).toBe('orders.read');
    answerWithType = false;
    await expect(
      client.tokenExchange({ subjectToken: 'user-token', subjectTokenType: accessTokenType }),
    ).rejects.toMatchObject({ code: 'invalid_response' });
  });
});

async function verifyProof(
  proof: string,
  expected: { htm: string; htu: string; accessToken?: string; nonce?: string },
) {
  const header = decodeProtectedHeader(proof);
  expect(header.typ).toBe('dpop+jwt');
  expect(header.alg).toBe('ES256');
  expect(header.jwk).toBeDefined();
  expect((header.jwk as JWK).d).toBeUndefined();
  const { payload } = await jwtVerify(proof, await importJWK(header.jwk as JWK, 'ES256'), {
    typ: 'dpop+jwt',
  });
  expect(payload.htm).toBe(expected.htm);
  expect(payload.htu).toBe(expected.htu);
  expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(payload.iat).toBeTypeOf('number');
  if (expected.accessToken !== undefined) {
    expect(payload.ath).toBe(createHash('sha256').update(expected.accessToken).digest('base64url'));
  } else {
    expect(payload.ath).toBeUndefined();
  }
  expect(payload.nonce).toBe(expected.nonce);
  return payload;
}

/** A token response with the Bearer token `token-<number>`. */
function sendNumberedToken(response: ServerResponse, number: number): void {
  json(response, 200, { access_token: `token-${number}`, token_type: 'Bearer', expires_in: 300 });
}

describe('DPoP proofs and the authenticated fetch', () => {
  it('signs token requests and resource requests, caches nonces per server, retries on use_dpop_nonce', async () => {
    const key = await generateDPoPKey();
    const seen: { url: string; headers: Record<string, string | string[] | undefined> }[] = [];
    const server = await startLocalServer((request, _body, response) => {
      seen.push({ url: request.url!, headers: request.headers });
      if (request.url === '/token') {
        const proof = decodeProtectedHeader(String(request.headers.dpop));
        if (proof.typ !== 'dpop+jwt') return json(response, 400, { error: 'invalid_dpop_proof' });
        const hasNonce = JSON.parse(
          Buffer.from(String(request.headers.dpop).split('.')[1]!, 'base64url').toString(),
        ).nonce;
        if (hasNonce !== 'as-nonce-1') {
          return json(response, 400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': 'as-nonce-1' });
        }
        return json(response, 200, { access_token: 'dpop-token', token_type: 'DPoP', expires_in: 300 });
      }
      const nonce = JSON.parse(
        Buffer.from(String(request.headers.dpop).split('.')[1]!, 'base64url').toString(),
      ).nonce;
      if (nonce !== 'rs-nonce-1') {
        response.writeHead(401, {
          'www-authenticate':
            'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"',
          'dpop-nonce': 'rs-nonce-1',
        });
        response.end();
        return;
      }
      json(response, 200, { ok: true });
    });
    const url = server.url;
    const client = serviceClient(url, { dpop: key });
    const manager = new TokenManager(client);
    const api = authenticatedFetch(manager.clientCredentials(), { dpop: key });
    // The resource lives on another origin name of the same server, so it has its own nonce.
    const resource = url.replace('127.0.0.1', 'localhost');
    const response = await api(`${resource}/orders?page=2`, { method: 'post', body: '{}' });
    expect(response.status).toBe(200);

    expect(seen.map((request) => request.url)).toEqual([
      '/token',
      '/token',
      '/orders?page=2',
      '/orders?page=2',
    ]);
    await verifyProof(String(seen[0]!.headers.dpop), { htm: 'POST', htu: `${url}/token` });
    await verifyProof(String(seen[1]!.headers.dpop), {
      htm: 'POST',
      htu: `${url}/token`,
      nonce: 'as-nonce-1',
    });
    await verifyProof(String(seen[2]!.headers.dpop), {
      htm: 'POST',
      htu: `${resource}/orders`,
      accessToken: 'dpop-token',
    });
    await verifyProof(String(seen[3]!.headers.dpop), {
      htm: 'POST',
      htu: `${resource}/orders`,
      accessToken: 'dpop-token',
      nonce: 'rs-nonce-1',
    });
    expect(seen[3]!.headers.authorization).toBe('DPoP dpop-token');
    const jtis = new Set(
      seen.map(
        (request) =>
          JSON.parse(Buffer.from(String(request.headers.dpop).split('.')[1]!, 'base64url').toString()).jti,
      ),
    );
    expect(jtis.size).toBe(4);
    expect(key.nonces.get(url)).toBe('as-nonce-1');
    expect(key.nonces.get(resource)).toBe('rs-nonce-1');
  });

  it('on 401 invalid_token gets one new token and retries once; a second 401 is returned as is', async () => {
    let issued = 0;
    const accepted = new Set(['token-2']);
    let resourceCalls = 0;
    const server = await startLocalServer((request, _body, response) => {
      if (request.url === '/token') {
        issued += 1;
        return sendNumberedToken(response, issued);
      }
      resourceCalls += 1;
      const token = String(request.headers.authorization).replace('Bearer ', '');
      if (accepted.has(token)) return json(response, 200, { token });
      response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
    });
    const url = server.url;
    const manager = new TokenManager(serviceClient(url));
    const api = authenticatedFetch(manager.clientCredentials());
    const first = await api(`${url}/orders`);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ token: 'token-2' });
    expect(issued).toBe(2);
    expect(resourceCalls).toBe(2);

    accepted.clear();
    const refused = await api(`${url}/orders`);
    expect(refused.status).toBe(401);
    expect(issued).toBe(3);
    expect(resourceCalls).toBe(4);
  });

  it('does not retry a 401 without invalid_token, and shares one renewal among concurrent 401s', async () => {
    let issued = 0;
    const server = await startLocalServer((request, _body, response) => {
      if (request.url === '/token') {
        issued += 1;
        return sendNumberedToken(response, issued);
      }
      const token = String(request.headers.authorization).replace('Bearer ', '');
      if (request.url === '/plain')
        return void response.writeHead(401, { 'www-authenticate': 'Bearer realm="api"' }).end();
      if (token === 'token-1')
        return void response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
      json(response, 200, { token });
    });
    const url = server.url;
    const manager = new TokenManager(serviceClient(url));
    const api = authenticatedFetch(manager.clientCredentials());
    expect((await api(`${url}/plain`)).status).toBe(401);
    expect(issued).toBe(1);
    const responses = await Promise.all(Array.from({ length: 10 }, () => api(`${url}/orders`)));
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(issued).toBe(2);
  });
});

describe('device flow polling (RFC 8628 §3.4, §3.5)', () => {
  async function deviceServer(answers: Array<{ status: number; body: unknown } | 'drop'>) {
    let polls = 0;
    const server = await startLocalServer((request, _body, response) => {
      if (request.url === '/device') {
        return json(response, 200, {
          device_code: 'dc',
          user_code: 'WDJB-MJHT',
          verification_uri: 'https://as.example.com/device',
          expires_in: 60,
          interval: 5,
        });
      }
      const answer = answers[Math.min(polls, answers.length - 1)]!;
      polls += 1;
      if (answer === 'drop') return void response.socket?.destroy();
      json(response, answer.status, answer.body);
    });
    const clock = testClock();
    const client = new OAuthClient({
      issuer: server.url,
      clientId: 'tv',
      metadata: {
        issuer: server.url,
        token_endpoint: `${server.url}/token`,
        device_authorization_endpoint: `${server.url}/device`,
      },
      clock,
    });
    const waits: number[] = [];
    const sleep = async (milliseconds: number) => {
      waits.push(milliseconds);
      clock.advance(milliseconds / 1000);
    };
    return { client, clock, waits, sleep, polls: () => polls, server };
  }
  const pending = { status: 400, body: { error: 'authorization_pending' } };
  const slowDown = { status: 400, body: { error: 'slow_down' } };

  it('waits interval seconds, adds 5 on slow_down, doubles after a dropped connection', async () => {
    const { client, waits, sleep } = await deviceServer([
      pending,
      slowDown,
      pending,
      'drop',
      { status: 200, body: { access_token: 'device-token', token_type: 'Bearer', expires_in: 300 } },
    ]);
    const authorization = await client.startDeviceAuthorization({ scope: 'openid' });
    expect(authorization).toMatchObject({ userCode: 'WDJB-MJHT', interval: 5, expiresIn: 60 });
    const tokens = await client.pollDeviceAuthorization(authorization, { sleep });
    expect(tokens.accessToken).toBe('device-token');
    expect(waits).toEqual([5000, 5000, 10000, 10000, 20000]);
  });

  it('stops at expires_in without polling past it', async () => {
    const { client, waits, sleep, polls } = await deviceServer([pending]);
    const authorization = await client.startDeviceAuthorization();
    const error = await client
      .pollDeviceAuthorization(authorization, { sleep })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatehouseClientError);
    expect((error as GatehouseClientError).code).toBe('device_code_expired');
    expect(waits.reduce((sum, wait) => sum + wait, 0)).toBeLessThanOrEqual(60_000);
    expect(polls()).toBe(12);
  });

  it('surfaces access_denied and expired_token as OAuth errors', async () => {
    for (const error of ['access_denied', 'expired_token']) {
      const { client, sleep, server } = await deviceServer([pending, { status: 400, body: { error } }]);
      const authorization = await client.startDeviceAuthorization();
      const caught = await client
        .pollDeviceAuthorization(authorization, { sleep })
        .catch((failure: unknown) => failure);
      expect(caught).toBeInstanceOf(OAuthResponseError);
      expect((caught as OAuthResponseError).error).toBe(error);
      await server.close();
    }
  });

  it('is cancelled by an AbortSignal during the wait', async () => {
    const { client } = await deviceServer([pending]);
    const authorization = await client.startDeviceAuthorization();
    const controller = new AbortController();
    const polling = client.pollDeviceAuthorization(authorization, { signal: controller.signal });
    controller.abort();
    await expect(polling).rejects.toMatchObject({ code: 'aborted' });
  });
});
