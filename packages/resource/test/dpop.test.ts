/**
 * DPoP (RFC 9449 §4.3, §7, §8, §9, §11.1) through the Express adapter on a real port: the accepted proof,
 * every negative with its exact challenge, server nonces, the Redis replay store on the real Redis at
 * 127.0.0.1:6379.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl, requireService } from '../../../tools/test-services.ts';
import { createVerifier, HmacNonceSource, jwkThumbprint, RedisReplayStore } from '../src/index.ts';
import {
  apiOptions,
  dpopProof,
  ecKey,
  edKey,
  rsaKey,
  startExpressApi,
  type TestApi,
  TestIssuer,
  type TestKey,
  testClock,
  thumbprint,
} from './support.ts';

const clock = testClock();
const algs = 'DPoP algs="ES256 ES384 EdDSA RS256 PS256"';
let issuer: TestIssuer;
let api: TestApi;
const holder = ecKey('holder');

beforeAll(async () => {
  issuer = await TestIssuer.start();
  api = await startExpressApi(apiOptions(issuer.issuer, { now: clock }));
});

afterAll(async () => {
  await api.close();
  await issuer.close();
});

const boundToken = (key: TestKey = holder, extra: Record<string, unknown> = {}) =>
  issuer.token(clock(), { cnf: { jkt: thumbprint(key) }, ...extra });

function proofFor(
  token: string,
  options: Partial<Parameters<typeof dpopProof>[1]> = {},
  key: TestKey = holder,
) {
  return dpopProof(key, {
    method: 'GET',
    url: `${api.url}/hello`,
    accessToken: token,
    iat: clock(),
    ...options,
  });
}

const dpopError = (description: string, error = 'invalid_dpop_proof') =>
  `Bearer realm="orders-api", ${algs}, error="${error}", error_description="${description}"`;

async function expectDpopRefusal(headers: Record<string, string>, wwwAuthenticate: string, path = '/hello') {
  const response = await api.get(path, headers);
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(wwwAuthenticate);
}

describe('accepted proofs', () => {
  it('accepts a DPoP-bound token with a valid proof, for every proof algorithm', async () => {
    for (const key of [holder, edKey(), rsaKey(undefined, 'PS256'), rsaKey()]) {
      const token = boundToken(key);
      const response = await api.get('/hello', {
        authorization: `DPoP ${token}`,
        dpop: proofFor(token, {}, key),
      });
      expect(response.status, key.alg).toBe(200);
    }
  });

  it('ignores the query string in htu and compares scheme and host case-insensitively', async () => {
    const token = boundToken();
    const url = `${api.url.replace('http://', 'HTTP://')}/hello`;
    const response = await api.get('/hello?page=2', {
      authorization: `DPoP ${token}`,
      dpop: proofFor(token, { url }),
    });
    expect(response.status).toBe(200);
  });

  it('computes the same RFC 7638 thumbprint as the test helper', () => {
    expect(jwkThumbprint(holder.publicJwk)).toBe(thumbprint(holder));
  });

  it('advertises DPoP in the challenge of an unauthenticated request', async () => {
    const response = await api.get('/hello');
    expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="orders-api", ${algs}`);
  });
});

describe('scheme and binding (RFC 9449 §7.1-§7.2)', () => {
  it('refuses a DPoP-bound token sent as Bearer', async () => {
    const token = boundToken();
    await expectDpopRefusal(
      { authorization: `Bearer ${token}`, dpop: proofFor(token) },
      `Bearer realm="orders-api", error="invalid_token", error_description="a DPoP-bound token must be sent with the DPoP scheme", ${algs}`,
    );
  });

  it('refuses an unbound token sent with the DPoP scheme', async () => {
    const token = issuer.token(clock());
    await expectDpopRefusal(
      { authorization: `DPoP ${token}`, dpop: proofFor(token) },
      dpopError('the token is not DPoP-bound', 'invalid_token'),
    );
  });

  it('refuses a proof signed by another key than the bound one', async () => {
    const token = boundToken();
    await expectDpopRefusal(
      { authorization: `DPoP ${token}`, dpop: proofFor(token, {}, ecKey()) },
      dpopError('the DPoP proof key is not the key the token is bound to', 'invalid_token'),
    );
  });
});

describe('proof negatives (RFC 9449 §4.3)', () => {
  const cases: [string, (token: string) => Record<string, string>, string][] = [
    ['missing proof', (t) => ({ authorization: `DPoP ${t}` }), 'a DPoP proof is required'],
    [
      'two proofs',
      (t) => ({ authorization: `DPoP ${t}`, dpop: `${proofFor(t)}, ${proofFor(t)}` }),
      'the DPoP proof is malformed',
    ],
    [
      'not a JWS',
      (t) => ({ authorization: `DPoP ${t}`, dpop: 'garbage' }),
      'the DPoP proof is not a well-formed JWS',
    ],
    [
      'wrong typ',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { header: { typ: 'JWT' } }) }),
      'the DPoP proof typ must be dpop+jwt',
    ],
    [
      'alg none',
      (t) => {
        const [header, payload] = proofFor(t, { header: { alg: 'none' } }).split('.');
        return { authorization: `DPoP ${t}`, dpop: `${header}.${payload}.` };
      },
      'the DPoP proof alg is not accepted',
    ],
    [
      'alg HS256',
      (t) => {
        const [, payload, signature] = proofFor(t).split('.');
        const header = Buffer.from(
          JSON.stringify({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } }),
        ).toString('base64url');
        return { authorization: `DPoP ${t}`, dpop: `${header}.${payload}.${signature}` };
      },
      'the DPoP proof alg is not accepted',
    ],
    [
      'no jwk',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { header: { jwk: undefined } }) }),
      'the DPoP proof has no jwk header',
    ],
    [
      'private jwk',
      (t) => ({
        authorization: `DPoP ${t}`,
        dpop: proofFor(t, { header: { jwk: holder.privateKey.export({ format: 'jwk' }) } }),
      }),
      'the DPoP proof jwk must be a public key',
    ],
    [
      'jwk of another type than alg',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { header: { alg: 'RS256' } }) }),
      'the DPoP proof jwk is not a usable key for its alg',
    ],
    [
      'bad signature',
      (t) => {
        const [header, , signature] = proofFor(t).split('.');
        const payload = Buffer.from(
          JSON.stringify({ htm: 'GET', htu: `${api.url}/hello`, iat: clock(), jti: 'x' }),
        ).toString('base64url');
        return { authorization: `DPoP ${t}`, dpop: `${header}.${payload}.${signature}` };
      },
      'the DPoP proof signature is invalid',
    ],
    [
      'crit',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { header: { crit: ['x'] } }) }),
      'the DPoP proof has unsupported critical headers',
    ],
    [
      'missing jti',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { claims: { jti: undefined } }) }),
      'the DPoP proof jti is missing',
    ],
    [
      'htm mismatch',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { method: 'POST' }) }),
      'the DPoP proof htm does not match the request',
    ],
    [
      'htu of another path',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { url: `${api.url}/orders` }) }),
      'the DPoP proof htu does not match the request',
    ],
    [
      'htu of another host',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { url: 'https://api.example.com/hello' }) }),
      'the DPoP proof htu does not match the request',
    ],
    [
      'htu not a URL',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { url: 'not a url' }) }),
      'the DPoP proof htu does not match the request',
    ],
    [
      'iat too old',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { iat: clock() - 71 }) }),
      'the DPoP proof iat is outside the acceptance window',
    ],
    [
      'iat in the future',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { iat: clock() + 11 }) }),
      'the DPoP proof iat is outside the acceptance window',
    ],
    [
      'iat not a number',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { claims: { iat: String(clock()) } }) }),
      'the DPoP proof iat is missing',
    ],
    [
      'no ath',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { accessToken: undefined }) }),
      'the DPoP proof ath does not match the access token',
    ],
    [
      'ath of another token',
      (t) => ({ authorization: `DPoP ${t}`, dpop: proofFor(t, { accessToken: boundToken() }) }),
      'the DPoP proof ath does not match the access token',
    ],
  ];

  for (const [name, headers, description] of cases) {
    it(`refuses: ${name}`, async () => {
      const token = boundToken();
      await expectDpopRefusal(headers(token), dpopError(description));
    });
  }

  it('refuses an htu that carries a query, a fragment or user credentials (RFC 9449 §4.2, §4.3 point 9)', async () => {
    const withQuery = 'the DPoP proof htu must not have a query or fragment';
    const mismatch = 'the DPoP proof htu does not match the request';
    const credentials = (userinfo: string) => `${api.url.replace('http://', `http://${userinfo}@`)}/hello`;
    const cases: [htu: string, path: string, description: string][] = [
      [`${api.url}/hello?page=2`, '/hello?page=2', withQuery],
      [`${api.url}/hello?page=2`, '/hello', withQuery],
      [`${api.url}/hello#top`, '/hello', withQuery],
      [credentials('alice:secret'), '/hello', mismatch],
      [credentials('alice'), '/hello', mismatch],
    ];
    for (const [htu, path, description] of cases) {
      const token = boundToken();
      await expectDpopRefusal(
        { authorization: `DPoP ${token}`, dpop: proofFor(token, { url: htu }) },
        dpopError(description),
        path,
      );
    }
  });

  it('accepts the edges of the iat window (60 s + 10 s skew back, 10 s ahead)', async () => {
    for (const iat of [clock() - 70, clock() + 10]) {
      const token = boundToken();
      const response = await api.get('/hello', {
        authorization: `DPoP ${token}`,
        dpop: proofFor(token, { iat }),
      });
      expect(response.status, String(iat - clock())).toBe(200);
    }
  });

  it('refuses a replayed proof', async () => {
    const token = boundToken();
    const headers = { authorization: `DPoP ${token}`, dpop: proofFor(token) };
    expect((await api.get('/hello', headers)).status).toBe(200);
    await expectDpopRefusal(headers, dpopError('the DPoP proof was already used'));
  });
});

describe('server nonces (RFC 9449 §8-§9)', () => {
  it('challenges with use_dpop_nonce and a DPoP-Nonce, then accepts the nonce until two windows pass', async () => {
    const nonceClock = testClock(1_800_000_000);
    const local = await TestIssuer.start();
    const nonceApi = await startExpressApi(
      apiOptions(local.issuer, {
        now: nonceClock,
        dpop: { nonce: new HmacNonceSource({ secret: 'test-secret', window: 300 }) },
      }),
    );
    try {
      const token = local.token(nonceClock(), { cnf: { jkt: thumbprint(holder) }, exp: nonceClock() + 900 });
      const proof = (nonce?: string) =>
        dpopProof(holder, {
          method: 'GET',
          url: `${nonceApi.url}/hello`,
          accessToken: token,
          iat: nonceClock(),
          ...(nonce === undefined ? {} : { nonce }),
        });
      const first = await nonceApi.get('/hello', { authorization: `DPoP ${token}`, dpop: proof() });
      expect(first.status).toBe(401);
      expect(first.headers.get('www-authenticate')).toBe(
        dpopError('a DPoP nonce from this resource server is required', 'use_dpop_nonce'),
      );
      const nonce = first.headers.get('dpop-nonce');
      expect(nonce).toMatch(/^[a-z0-9]+\.[A-Za-z0-9_-]{22}$/);

      const second = await nonceApi.get('/hello', { authorization: `DPoP ${token}`, dpop: proof(nonce!) });
      expect(second.status).toBe(200);
      expect(second.headers.get('dpop-nonce')).toBe(nonce);

      const forged = await nonceApi.get('/hello', {
        authorization: `DPoP ${token}`,
        dpop: proof(`${nonce}x`),
      });
      expect(forged.status).toBe(401);
      expect(forged.headers.get('www-authenticate')).toContain('error="use_dpop_nonce"');

      nonceClock.advance(300);
      expect(
        (await nonceApi.get('/hello', { authorization: `DPoP ${token}`, dpop: proof(nonce!) })).status,
      ).toBe(200);
      nonceClock.advance(300);
      const stale = await nonceApi.get('/hello', { authorization: `DPoP ${token}`, dpop: proof(nonce!) });
      expect(stale.status).toBe(401);
      expect(stale.headers.get('dpop-nonce')).not.toBe(nonce);
    } finally {
      await nonceApi.close();
      await local.close();
    }
  });
});

describe('DPoP required', () => {
  it('refuses Bearer tokens and challenges with DPoP only', async () => {
    const local = await startExpressApi(
      apiOptions(issuer.issuer, { now: clock, dpop: { required: true, algorithms: ['ES256'] } }),
    );
    try {
      const bearer = await local.get('/hello', { authorization: `Bearer ${issuer.token(clock())}` });
      expect(bearer.status).toBe(401);
      expect(bearer.headers.get('www-authenticate')).toBe(
        'DPoP algs="ES256", error="invalid_token", error_description="a DPoP-bound token is required"',
      );
      expect((await local.get('/hello')).headers.get('www-authenticate')).toBe('DPoP algs="ES256"');
      const unbound = issuer.token(clock());
      const response = await local.get('/hello', { authorization: `DPoP ${unbound}` });
      expect(response.headers.get('www-authenticate')).toBe(
        'DPoP algs="ES256", error="invalid_token", error_description="the token is not DPoP-bound"',
      );
      const token = boundToken();
      const proof = dpopProof(holder, {
        method: 'GET',
        url: `${local.url}/hello`,
        accessToken: token,
        iat: clock(),
      });
      expect((await local.get('/hello', { authorization: `DPoP ${token}`, dpop: proof })).status).toBe(200);
    } finally {
      await local.close();
    }
  });

  it('refuses DPoP-bound tokens when DPoP is switched off', async () => {
    const verifier = createVerifier(apiOptions(issuer.issuer, { now: clock, dpop: false }));
    const token = boundToken();
    const result = await verifier.authenticate({
      method: 'GET',
      path: '/hello',
      headers: { authorization: `Bearer ${token}`, dpop: proofFor(token) },
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('dpop_binding');
  });
});

describe('Redis replay store (real Redis on 127.0.0.1:6379)', () => {
  const prefix = `gatehouse-resource-test:${randomBytes(6).toString('hex')}:`;
  let redis: Redis;

  beforeAll(async () => {
    await requireService('redis');
    redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    if (redis === undefined) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('claims a key once, with a TTL', async () => {
    const store = new RedisReplayStore(redis, { prefix });
    const now = Math.floor(Date.now() / 1000);
    expect(await store.claim('a', now + 70, now)).toBe(true);
    expect(await store.claim('a', now + 70, now)).toBe(false);
    expect(await store.claim('b', now + 70, now)).toBe(true);
    const ttl = await redis.ttl(`${prefix}a`);
    expect(ttl).toBeGreaterThan(60);
    expect(ttl).toBeLessThanOrEqual(70);
  });

  it('stops a proof replayed at a second instance of the API', async () => {
    const options = {
      issuer: issuer.issuer,
      audience: 'orders-api',
      now: clock,
      logger: false as const,
      publicUrl: 'https://api.example.com',
      dpop: { replayStore: new RedisReplayStore(redis, { prefix }) },
    };
    const first = createVerifier(options);
    const second = createVerifier(options);
    const token = boundToken();
    const request = {
      method: 'GET',
      path: '/orders',
      headers: {
        authorization: `DPoP ${token}`,
        dpop: dpopProof(holder, {
          method: 'GET',
          url: 'https://api.example.com/orders',
          accessToken: token,
          iat: clock(),
        }),
      },
    };
    expect((await first.authenticate(request)).ok).toBe(true);
    const replay = await second.authenticate(request);
    expect(replay.ok).toBe(false);
    expect(!replay.ok && replay.error.code).toBe('dpop_replay');
    expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThanOrEqual(1);
  });
});
