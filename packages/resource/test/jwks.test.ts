/**
 * Key discovery and the JWKS cache (RFC 8414 §3, RFC 7517 §5): fetches counted at a real issuer on
 * 127.0.0.1, the unknown-kid refetch cooldown on an injected clock, rotation without a refused request,
 * outages that keep the last good set.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthError, createVerifier, type Verifier } from '../src/index.ts';
import { apiOptions, ecKey, startExpressApi, type TestClock, TestIssuer, testClock } from './support.ts';

let issuer: TestIssuer;
let clock: TestClock;

beforeEach(async () => {
  issuer = await TestIssuer.start(ecKey('key-1'));
  clock = testClock();
});

afterEach(async () => {
  await issuer.close();
});

function verifier(extra: Partial<Parameters<typeof createVerifier>[0]> = {}): Verifier {
  return createVerifier(apiOptions(issuer.issuer, { now: clock, ...extra }));
}

async function refusal(promise: Promise<unknown>): Promise<AuthError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AuthError) return error;
    throw error;
  }
  throw new Error('the token was accepted');
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

describe('discovery', () => {
  it('finds the JWKS through the issuer metadata, once', async () => {
    const v = verifier();
    expect(issuer.requests).toEqual([]);
    await v.verifyAccessToken(issuer.token(clock()));
    await v.verifyAccessToken(issuer.token(clock()));
    expect(issuer.count('/jwks')).toBe(1);
    expect(issuer.count('/.well-known/openid-configuration')).toBe(1);
  });

  it('refuses metadata that names another issuer, with 503 and no key fetch', async () => {
    issuer.metadata = { issuer: 'https://evil.example', jwks_uri: `${issuer.issuer}/jwks` };
    const api = await startExpressApi(apiOptions(issuer.issuer, { dpop: false }));
    try {
      const response = await api.get('/hello', { authorization: `Bearer ${issuer.token(clock())}` });
      expect(response.status).toBe(503);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="orders-api"');
      expect(response.headers.get('retry-after')).toBe('30');
      expect(issuer.count('/jwks')).toBe(0);
    } finally {
      await api.close();
    }
  });

  it('uses a configured jwksUri without discovery, and static keys without any fetch', async () => {
    await verifier({ jwksUri: `${issuer.issuer}/jwks` }).verifyAccessToken(issuer.token(clock()));
    expect(issuer.requests).toEqual(['GET /jwks']);
    await verifier({ jwks: { keys: [issuer.signing.publicJwk] } }).verifyAccessToken(issuer.token(clock()));
    expect(issuer.requests).toEqual(['GET /jwks']);
  });
});

describe('unknown kid', () => {
  it('refetches once, then holds back for the cooldown, then refetches again', async () => {
    const v = verifier({ jwksCooldown: 30 });
    await v.verifyAccessToken(issuer.token(clock()));
    expect(issuer.count('/jwks')).toBe(1);
    clock.advance(31);
    const stranger = ecKey('unknown-kid');
    const first = await refusal(v.verifyAccessToken(issuer.token(clock(), {}, {}, stranger)));
    expect(first.code).toBe('unknown_kid');
    expect(issuer.count('/jwks')).toBe(2);
    // A flood of made-up kids inside the cooldown fetches nothing.
    for (let i = 0; i < 25; i++) {
      const error = await refusal(v.verifyAccessToken(issuer.token(clock(), {}, {}, ecKey(`flood-${i}`))));
      expect(error.code).toBe('unknown_kid');
    }
    expect(issuer.count('/jwks')).toBe(2);
    clock.advance(29);
    await refusal(v.verifyAccessToken(issuer.token(clock(), {}, {}, stranger)));
    expect(issuer.count('/jwks')).toBe(2);
    clock.advance(2);
    await refusal(v.verifyAccessToken(issuer.token(clock(), {}, {}, stranger)));
    expect(issuer.count('/jwks')).toBe(3);
  });

  it('answers 401 invalid_token for an unknown kid over HTTP', async () => {
    const api = await startExpressApi(apiOptions(issuer.issuer, { dpop: false }));
    try {
      const response = await api.get('/hello', {
        authorization: `Bearer ${issuer.token(clock(), {}, {}, ecKey('nope'))}`,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        'Bearer realm="orders-api", error="invalid_token", error_description="the token key is unknown"',
      );
    } finally {
      await api.close();
    }
  });
});

describe('rotation at the issuer', () => {
  it('keeps accepting tokens while the issuer rotates, and drops retired keys after the TTL', async () => {
    const v = verifier({ jwksCacheTtl: 600, jwksCooldown: 30 });
    const oldKey = issuer.signing;
    const oldToken = issuer.token(clock(), { exp: clock() + 900 });
    await v.verifyAccessToken(oldToken);

    // The next key is published before it signs (Gatehouse's overlap); the cache TTL passes.
    const newKey = ecKey('key-2');
    issuer.published = [oldKey, newKey];
    clock.advance(601);
    // The stale set keeps serving while a background refresh runs.
    await v.verifyAccessToken(issuer.token(clock()));
    await until(() => issuer.count('/jwks') === 2);

    issuer.signing = newKey;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => v.verifyAccessToken(issuer.token(clock())).then(() => 'ok')),
    );
    expect(results.every((result) => result === 'ok')).toBe(true);
    await v.verifyAccessToken(oldToken);
    expect(issuer.count('/jwks')).toBe(2);

    // The old key is retired; once the set is refreshed, its tokens are refused.
    issuer.published = [newKey];
    clock.advance(601);
    await v.verifyAccessToken(issuer.token(clock()));
    await until(() => issuer.count('/jwks') === 3);
    // The refresh response may still be in flight when the request was counted: wait for it to land.
    let code: string | undefined;
    for (let i = 0; i < 100 && code === undefined; i++) {
      code = await v.verifyAccessToken(issuer.token(clock(), {}, {}, oldKey)).then(
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return undefined;
        },
        (error: AuthError) => error.code,
      );
    }
    expect(code).toBe('unknown_kid');
    expect(issuer.count('/jwks')).toBe(3);
  });

  it('picks up a key that signs before the cache expired, through the unknown-kid refetch', async () => {
    const v = verifier();
    await v.verifyAccessToken(issuer.token(clock()));
    const newKey = ecKey('key-2');
    issuer.published = [issuer.signing, newKey];
    issuer.signing = newKey;
    clock.advance(31);
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, () => v.verifyAccessToken(issuer.token(clock())).then(() => 'ok')),
    );
    expect(concurrent).toEqual(Array(10).fill('ok'));
    expect(issuer.count('/jwks')).toBe(2);
  });

  it('keeps the last good set through an issuer outage', async () => {
    const v = verifier({ jwksCacheTtl: 60 });
    await v.verifyAccessToken(issuer.token(clock()));
    issuer.failing = true;
    clock.advance(61);
    await v.verifyAccessToken(issuer.token(clock()));
    await until(() => issuer.count('/jwks') === 2);
    await v.verifyAccessToken(issuer.token(clock()));
    issuer.failing = false;
  });

  it('answers 503 when the keys were never available, and recovers after the cooldown', async () => {
    issuer.failing = true;
    const v = verifier();
    const error = await refusal(v.verifyAccessToken(issuer.token(clock())));
    expect(error.status).toBe(503);
    expect(error.code).toBe('keys_unavailable');
    issuer.failing = false;
    // Within the cooldown nothing is fetched.
    await refusal(v.verifyAccessToken(issuer.token(clock())));
    expect(issuer.count('/jwks')).toBe(1);
    clock.advance(31);
    await v.verifyAccessToken(issuer.token(clock()));
    expect(issuer.count('/jwks')).toBe(2);
  });
});
