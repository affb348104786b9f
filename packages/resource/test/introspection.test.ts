/**
 * Opaque tokens by introspection (RFC 7662 §2) against a real endpoint on 127.0.0.1: client
 * authentication, the answer cache bounded by the token's exp and the TTL, claim checks on the answer,
 * JWT and opaque tokens through one verifier.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthError, createVerifier, type Verifier } from '../src/index.ts';
import { apiOptions, type TestClock, TestIssuer, testClock } from './support.ts';

let issuer: TestIssuer;
let clock: TestClock;
let verifier: Verifier;

beforeEach(async () => {
  issuer = await TestIssuer.start();
  clock = testClock();
  verifier = createVerifier(
    apiOptions(issuer.issuer, {
      now: clock,
      introspection: {
        clientId: issuer.introspectionCredentials.clientId,
        clientSecret: issuer.introspectionCredentials.secret,
        cacheTtl: 60,
      },
    }),
  );
});

afterEach(async () => {
  await issuer.close();
});

function opaque(claims: Record<string, unknown> = {}): string {
  const token = randomBytes(32).toString('base64url');
  issuer.opaque.set(token, {
    iss: issuer.issuer,
    aud: 'orders-api',
    sub: 'bob',
    client_id: 'service-a',
    scope: 'orders.read',
    exp: clock() + 300,
    token_type: 'Bearer',
    ...claims,
  });
  return token;
}

async function code(token: string): Promise<string> {
  try {
    await verifier.verifyAccessToken(token);
    return 'accepted';
  } catch (error) {
    return (error as AuthError).code;
  }
}

describe('introspection', () => {
  it('accepts an active token and exposes its claims', async () => {
    const auth = await verifier.verifyAccessToken(opaque({ roles: ['OrderAdmin'] }));
    expect(auth).toMatchObject({
      format: 'opaque',
      subject: 'bob',
      clientId: 'service-a',
      roles: ['OrderAdmin'],
    });
    expect([...auth.scopes]).toEqual(['orders.read']);
  });

  it('caches by token hash, at most the TTL and never past exp', async () => {
    const long = opaque({ exp: clock() + 3600 });
    await verifier.verifyAccessToken(long);
    await verifier.verifyAccessToken(long);
    expect(issuer.count('/introspect')).toBe(1);
    clock.advance(60);
    await verifier.verifyAccessToken(long);
    expect(issuer.count('/introspect')).toBe(2);

    const short = opaque({ exp: clock() + 5 });
    await verifier.verifyAccessToken(short);
    clock.advance(5 + 10);
    issuer.opaque.delete(short);
    expect(await code(short)).toBe('inactive');
    expect(issuer.count('/introspect')).toBe(4);
  });

  it('refuses inactive, foreign and expired answers', async () => {
    expect(await code(randomBytes(32).toString('base64url'))).toBe('inactive');
    expect(await code(opaque({ aud: 'api1' }))).toBe('wrong_audience');
    expect(await code(opaque({ iss: 'https://other.example' }))).toBe('wrong_issuer');
    expect(await code(opaque({ exp: clock() - 60 }))).toBe('expired');
    expect(await code(opaque({ token_type: 'refresh_token' }))).toBe('inactive');
    expect(await code(opaque({ active: 'true' }))).toBe('inactive');
  });

  it('sends client_secret_basic; a rejected secret is 503, not 401', async () => {
    issuer.introspectionCredentials = {
      clientId: 'orders-api',
      secret: 'another-secret-0123456789-abcdefghijklmnop',
    };
    const token = opaque();
    await expect(verifier.verifyAccessToken(token)).rejects.toMatchObject({
      status: 503,
      code: 'introspection_unavailable',
    });
  });

  it('verifies JWTs locally and opaque tokens by introspection in one verifier', async () => {
    await verifier.verifyAccessToken(issuer.token(clock()));
    await verifier.verifyAccessToken(opaque());
    expect(issuer.count('/jwks')).toBe(1);
    expect(issuer.count('/introspect')).toBe(1);
    const result = await verifier.authenticate({
      method: 'GET',
      path: '/',
      headers: { authorization: `Bearer ${issuer.token(clock(), { aud: 'api1' })}` },
    });
    expect(!result.ok && result.error.code).toBe('wrong_audience');
    expect(issuer.count('/introspect')).toBe(1);
  });

  it('refuses opaque tokens when introspection is not configured', async () => {
    const jwtOnly = createVerifier(apiOptions(issuer.issuer, { now: clock }));
    await expect(jwtOnly.verifyAccessToken(opaque())).rejects.toBeInstanceOf(AuthError);
    expect(issuer.count('/introspect')).toBe(0);
  });
});
