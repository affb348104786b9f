/**
 * JWT access-token checks (RFC 9068 §4, RFC 8725 §3, RFC 6750 §3) through the Express adapter on a real
 * port against a real JWKS server: every refusal with its exact status and WWW-Authenticate.
 */
import { createHmac, createPublicKey, type JsonWebKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.ts';
import {
  apiOptions,
  b64,
  CapturingLogger,
  ecKey,
  edKey,
  rsaKey,
  signJws,
  startExpressApi,
  type TestApi,
  TestIssuer,
  Tripwire,
  testClock,
} from './support.ts';

const clock = testClock();
const logger = new CapturingLogger();
const events: unknown[] = [];
let issuer: TestIssuer;
let api: TestApi;

const challenge = (description: string, error = 'invalid_token') =>
  `Bearer realm="orders-api", error="${error}", error_description="${description}"`;

beforeAll(async () => {
  issuer = await TestIssuer.start();
  api = await startExpressApi(
    apiOptions(issuer.issuer, {
      now: clock,
      clockSkew: 30,
      dpop: false,
      logger,
      onAuthentication: (event) => events.push(event),
    }),
  );
});

afterAll(async () => {
  await api.close();
  await issuer.close();
});

beforeEach(() => {
  logger.entries.length = 0;
  events.length = 0;
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function expectRefusal(token: string, status: number, wwwAuthenticate: string, path = '/hello') {
  const response = await api.get(path, bearer(token));
  expect(response.status).toBe(status);
  expect(response.headers.get('www-authenticate')).toBe(wwwAuthenticate);
  const body = (await response.json()) as { error: string };
  expect(body.error).toBe(/error="([^"]+)"/.exec(wwwAuthenticate)?.[1]);
  return response;
}

describe('accepted tokens', () => {
  it('accepts a valid ES256 at+jwt and exposes the verified claims', async () => {
    const response = await api.get('/hello', bearer(issuer.token(clock())));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: 'alice', client: 'web-app' });
  });

  it('accepts the scheme in any case and typ with the application/ prefix', async () => {
    const token = issuer.token(clock(), {}, { typ: 'application/AT+JWT' });
    const response = await api.get('/hello', { authorization: `bEaReR ${token}` });
    expect(response.status).toBe(200);
  });

  it('accepts RS256, PS256 and EdDSA tokens from keys of the matching type', async () => {
    const keys = [rsaKey(), rsaKey(undefined, 'PS256'), edKey()];
    const local = await TestIssuer.start(keys[0]);
    local.published = keys;
    const verifier = createVerifier(apiOptions(local.issuer));
    try {
      for (const key of keys) {
        const auth = await verifier.verifyAccessToken(local.token(clock(), {}, {}, key));
        expect(auth.subject).toBe('alice');
      }
    } finally {
      await local.close();
    }
  });

  it('verifies on the event loop too, with the same result', async () => {
    const sync = createVerifier(apiOptions(issuer.issuer, { now: clock, signatureVerification: 'sync' }));
    const token = issuer.token(clock());
    expect((await sync.verifyAccessToken(token)).subject).toBe('alice');
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${issuer.token(clock()).split('.')[2]}`;
    await expect(sync.verifyAccessToken(forged)).rejects.toMatchObject({ code: 'bad_signature' });
  });

  it('tries every key of the matching type for a token without kid, in the thread pool and on the event loop', async () => {
    const keys = [ecKey(), ecKey(), ecKey()];
    const payload = (now: number) => ({
      iss: issuer.issuer,
      aud: 'orders-api',
      sub: 'alice',
      iat: now,
      exp: now + 300,
    });
    for (const signatureVerification of ['threadpool', 'sync'] as const) {
      const verifier = createVerifier(
        apiOptions(issuer.issuer, {
          jwks: { keys: keys.slice(0, 2).map((key) => key.publicJwk) },
          now: clock,
          signatureVerification,
        }),
      );
      for (const key of keys.slice(0, 2)) {
        const token = signJws({ alg: 'ES256', typ: 'at+jwt' }, payload(clock()), key.privateKey, 'ES256');
        expect((await verifier.verifyAccessToken(token)).subject).toBe('alice');
      }
      const foreign = signJws(
        { alg: 'ES256', typ: 'at+jwt' },
        payload(clock()),
        keys[2]!.privateKey,
        'ES256',
      );
      await expect(verifier.verifyAccessToken(foreign)).rejects.toMatchObject({ code: 'bad_signature' });
    }
  });

  it('reports successes to the metrics hook', async () => {
    const token = issuer.token(clock());
    await api.get('/hello', bearer(token));
    await api.get('/hello', bearer(token));
    expect(events).toEqual([
      {
        outcome: 'success',
        status: 200,
        reason: undefined,
        clientId: 'web-app',
        format: 'jwt',
        cached: false,
      },
      {
        outcome: 'success',
        status: 200,
        reason: undefined,
        clientId: 'web-app',
        format: 'jwt',
        cached: true,
      },
    ]);
  });
});

describe('header and algorithm checks (RFC 8725 §3.1-§3.2, RFC 9068 §4)', () => {
  it('refuses a request without a token with a bare challenge', async () => {
    const response = await api.get('/hello');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="orders-api"');
  });

  it('refuses alg none', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'at+jwt', kid: issuer.signing.kid })}.${b64(issuer.claims(clock()))}.`;
    await expectRefusal(unsigned, 401, challenge('the token alg is not accepted'));
  });

  it('refuses HS256 signed with the public key (HS/RS confusion)', async () => {
    const publicPem = createPublicKey({ key: issuer.signing.publicJwk as JsonWebKey, format: 'jwk' }).export({
      format: 'pem',
      type: 'spki',
    });
    for (const secret of [JSON.stringify(issuer.signing.publicJwk), publicPem]) {
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: issuer.signing.kid })}.${b64(issuer.claims(clock()))}`;
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      await expectRefusal(`${input}.${mac}`, 401, challenge('the token alg is not accepted'));
    }
  });

  it('refuses an RS256 header on an EC key (alg must match the key type)', async () => {
    const other = rsaKey(issuer.signing.kid);
    const token = signJws(
      { alg: 'RS256', typ: 'at+jwt', kid: issuer.signing.kid },
      issuer.claims(clock()),
      other.privateKey,
      'RS256',
    );
    await expectRefusal(token, 401, challenge('the token alg does not match its key'));
  });

  it('refuses a wrong signature', async () => {
    const token = issuer.token(clock());
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${issuer.token(clock()).split('.')[2]}`;
    await expectRefusal(forged, 401, challenge('the token signature is invalid'));
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = issuer.token(clock()).split('.');
    const tampered = `${header}.${b64(issuer.claims(clock(), { scope: 'orders.read orders.write' }))}.${signature}`;
    await expectRefusal(tampered, 401, challenge('the token signature is invalid'));
  });

  it('refuses a wrong typ, or none', async () => {
    await expectRefusal(
      issuer.token(clock(), {}, { typ: 'JWT' }),
      401,
      challenge('the token typ must be at+jwt'),
    );
    await expectRefusal(
      issuer.token(clock(), {}, { typ: undefined }),
      401,
      challenge('the token typ must be at+jwt'),
    );
  });

  it('refuses any crit header', async () => {
    await expectRefusal(
      issuer.token(clock(), {}, { crit: ['exp'] }),
      401,
      challenge('the token has unsupported critical headers'),
    );
  });

  it('never fetches jku or x5u, and never trusts an embedded jwk', async () => {
    const tripwire = await Tripwire.start();
    try {
      const attacker = ecKey('attacker-key');
      const { kid: _kid, ...embedded } = attacker.publicJwk;
      for (const header of [
        { jku: `${tripwire.url}/jwks.json` },
        { x5u: `${tripwire.url}/cert.pem` },
        { jwk: embedded },
        { kid: `${tripwire.url}/jwks.json` },
        { kid: '../../../etc/passwd' },
      ]) {
        const token = issuer.token(clock(), {}, { kid: attacker.kid, ...header }, attacker);
        await expectRefusal(token, 401, challenge('the token key is unknown'));
      }
      // A legitimate token carrying jku is verified with the issuer's JWKS alone.
      const legit = issuer.token(clock(), {}, { jku: `${tripwire.url}/jwks.json`, x5u: `${tripwire.url}/c` });
      expect((await api.get('/hello', bearer(legit))).status).toBe(200);
      expect(tripwire.requests).toEqual([]);
    } finally {
      await tripwire.close();
    }
  });
});

describe('claim checks (RFC 9068 §4, RFC 7519 §4.1)', () => {
  it('refuses a wrong issuer', async () => {
    await expectRefusal(
      issuer.token(clock(), { iss: `${issuer.issuer}/` }),
      401,
      challenge('the token issuer is not accepted'),
    );
  });

  it('refuses a wrong audience, and accepts the audience in an array', async () => {
    await expectRefusal(
      issuer.token(clock(), { aud: 'api1' }),
      401,
      challenge('the token is not meant for this resource'),
    );
    await expectRefusal(
      issuer.token(clock(), { aud: undefined }),
      401,
      challenge('the token is not meant for this resource'),
    );
    expect(
      (await api.get('/hello', bearer(issuer.token(clock(), { aud: ['api1', 'orders-api'] })))).status,
    ).toBe(200);
  });

  it('requires exp', async () => {
    await expectRefusal(issuer.token(clock(), { exp: undefined }), 401, challenge('the token has no exp'));
    await expectRefusal(issuer.token(clock(), { exp: '9999999999' }), 401, challenge('exp is not a number'));
  });

  it('refuses an expired token, with the skew edge at 30 seconds', async () => {
    const now = clock();
    expect(
      (await api.get('/hello', bearer(issuer.token(now, { iat: now - 300, exp: now - 29 })))).status,
    ).toBe(200);
    await expectRefusal(
      issuer.token(now, { iat: now - 300, exp: now - 30 }),
      401,
      challenge('the token has expired'),
    );
    await expectRefusal(
      issuer.token(now, { iat: now - 300, exp: now - 3600 }),
      401,
      challenge('the token has expired'),
    );
  });

  it('refuses nbf in the future, with the skew edge at 30 seconds', async () => {
    const now = clock();
    expect((await api.get('/hello', bearer(issuer.token(now, { nbf: now + 30 })))).status).toBe(200);
    await expectRefusal(issuer.token(now, { nbf: now + 31 }), 401, challenge('the token is not valid yet'));
  });

  it('refuses iat in the future beyond the skew', async () => {
    const now = clock();
    expect((await api.get('/hello', bearer(issuer.token(now, { iat: now + 30 })))).status).toBe(200);
    await expectRefusal(
      issuer.token(now, { iat: now + 31 }),
      401,
      challenge('the token was issued in the future'),
    );
  });

  it('refuses a cached token once it expires', async () => {
    const now = clock();
    const token = issuer.token(now, { exp: now + 10 });
    expect((await api.get('/hello', bearer(token))).status).toBe(200);
    clock.advance(10 + 30);
    try {
      await expectRefusal(token, 401, challenge('the token has expired'));
    } finally {
      clock.set(now);
    }
  });

  it('allows no skew over 30 seconds', () => {
    expect(() => createVerifier(apiOptions(issuer.issuer, { clockSkew: 31 }))).toThrow(
      'clockSkew must be at most 30 seconds',
    );
  });
});

describe('policies (RFC 6750 §3.1)', () => {
  it('answers 403 insufficient_scope with the scope parameter', async () => {
    const token = issuer.token(clock(), { scope: 'openid orders.read' });
    expect((await api.get('/orders', bearer(token))).status).toBe(200);
    await expectRefusal(
      token,
      403,
      'Bearer realm="orders-api", error="insufficient_scope", error_description="the token lacks the scope orders.write", scope="orders.write"',
      '/orders/write',
    );
  });

  it('answers 403 when the role is missing, and never reads roles from anywhere but the token', async () => {
    const withRole = issuer.token(clock(), { roles: ['OrderAdmin'] });
    expect((await api.get('/admin', bearer(withRole))).status).toBe(200);
    const without = issuer.token(clock(), { roles: ['Viewer'] });
    const response = await api.get('/admin', {
      ...bearer(without),
      'x-roles': 'OrderAdmin',
      'x-user': 'admin',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="orders-api", error="insufficient_scope", error_description="the role OrderAdmin is required"',
    );
  });
});

describe('where tokens come from (RFC 6750 §2)', () => {
  it('refuses a token in the query string with 400', async () => {
    const response = await api.get(`/hello?access_token=${issuer.token(clock())}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('www-authenticate')).toBe(
      challenge('access tokens in the query string are not accepted', 'invalid_request'),
    );
  });

  it('ignores a form-body token unless enabled', async () => {
    const response = await fetch(`${api.url}/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: issuer.token(clock()) }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="orders-api"');
  });

  it('accepts a form-body token when enabled, but not together with the header', async () => {
    const formApi = await startExpressApi(
      apiOptions(issuer.issuer, { allowFormBodyToken: true, dpop: false }),
    );
    try {
      const token = issuer.token(clock());
      const post = (headers: Record<string, string>) =>
        fetch(`${formApi.url}/form`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({ access_token: token }),
        });
      expect((await post({})).status).toBe(200);
      const both = await post(bearer(token));
      expect(both.status).toBe(400);
      expect(both.headers.get('www-authenticate')).toBe(
        challenge('only one way of sending the token is allowed', 'invalid_request'),
      );
    } finally {
      await formApi.close();
    }
  });

  it('answers 400 for a malformed Authorization header', async () => {
    // Also a header that is not `scheme [credentials]` at all (RFC 9110 §11.6.2), as at Gatehouse's userinfo.
    for (const authorization of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer ä', 'Bearer:abc', 'bearer,abc']) {
      const response = await api.get('/hello', { authorization });
      expect(response.status).toBe(400);
      expect(response.headers.get('www-authenticate')).toBe(
        challenge('the Authorization header is malformed', 'invalid_request'),
      );
    }
  });

  it('treats another scheme as no token', async () => {
    const response = await api.get('/hello', { authorization: 'Basic dXNlcjpwYXNz' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="orders-api"');
  });
});

describe('malformed input never throws (no 500)', () => {
  it('refuses malformed base64 and JSON in every segment', async () => {
    const good = issuer.token(clock()).split('.');
    const cases = [
      `${good[0]}+/.${good[1]}.${good[2]}`,
      `${good[0]}.${good[1]}x.${good[2]}`,
      `${b64('just a string')}.${good[1]}.${good[2]}`,
      `${b64({ alg: 'ES256' }).slice(0, -2)}.${good[1]}.${good[2]}`,
      `${good[0]}.${Buffer.from('[1,2,3]').toString('base64url')}.${good[2]}`,
      `${good[0]}.${Buffer.from('{"a":').toString('base64url')}.${good[2]}`,
      `${good[0]}.${good[1]}`,
      `${good[0]}.${good[1]}.${good[2]}.${good[2]}`,
      '...',
      'not-a-jwt',
    ];
    for (const token of cases) {
      const response = await api.get('/hello', bearer(token));
      expect(response.status, token).toBe(401);
      expect(response.headers.get('www-authenticate'), token).toMatch(
        /^Bearer realm="orders-api", error="invalid_token"/,
      );
    }
  });

  it('refuses a kid that is not a string and a signature of the wrong length', async () => {
    await expectRefusal(
      issuer.token(clock(), {}, { kid: { $ne: 1 } }),
      401,
      challenge('the token kid is malformed'),
    );
    const [header, payload] = issuer.token(clock()).split('.');
    await expectRefusal(
      `${header}.${payload}.${randomBytes(3).toString('base64url')}`,
      401,
      challenge('the token signature is invalid'),
    );
  });

  it('refuses an oversized token', async () => {
    const token = issuer.token(clock(), { padding: 'x'.repeat(9000) });
    await expectRefusal(token, 401, challenge('the token is too large'));
  });

  it('leaves a header beyond the HTTP limit to Node (431), never a 500', async () => {
    const response = await api.get('/hello', { authorization: `Bearer ${'a'.repeat(20_000)}` });
    expect(response.status).toBe(431);
  });

  it('survives malformed JWKs in the set: they are skipped', async () => {
    const local = await TestIssuer.start();
    const good = local.signing;
    const broken = [
      { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'broken-ec' },
      { kty: 'RSA', n: 'AQAB', e: 'AQAB', kid: 'weak-rsa' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
      { kty: 'EC', crv: 'P-256', kid: 'missing-coordinates' },
      'not an object',
      { ...good.publicJwk, kid: 'enc-key', use: 'enc' },
    ];
    local.published = [...(broken as never[]), good];
    const localApi = await startExpressApi(apiOptions(local.issuer, { dpop: false }));
    try {
      expect((await localApi.get('/hello', bearer(local.token(clock())))).status).toBe(200);
      for (const kid of ['broken-ec', 'weak-rsa', 'hmac', 'missing-coordinates', 'enc-key']) {
        const response = await localApi.get('/hello', bearer(local.token(clock(), {}, { kid })));
        expect(response.status, kid).toBe(401);
      }
    } finally {
      await localApi.close();
      await local.close();
    }
  });
});

describe('failure logging', () => {
  it('logs reason and client, never the token', async () => {
    const token = issuer.token(clock(), { aud: 'api1', client_id: 'service-a' });
    await api.get('/hello?x=1', bearer(token));
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]!.fields).toMatchObject({
      event: 'access_token_rejected',
      reason: 'wrong_audience',
      error: 'invalid_token',
      status: 401,
      client_id: 'service-a',
      method: 'GET',
      path: '/hello',
    });
    expect(logger.text).not.toContain(token);
    expect(logger.text).not.toContain(token.split('.')[2]);
    expect(events).toMatchObject([
      { outcome: 'failure', status: 401, reason: 'wrong_audience', clientId: 'service-a' },
    ]);
  });

  it('does not log the token from the query string either', async () => {
    const token = issuer.token(clock());
    await api.get(`/hello?access_token=${token}`);
    expect(logger.entries[0]!.fields.reason).toBe('query_token');
    expect(logger.text).not.toContain(token.split('.')[2]);
  });
});
