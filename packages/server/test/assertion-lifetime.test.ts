/**
 * Client assertion lifetime (RFC 7523 §3): an assertion as Authlib signs one by default (aud the token
 * endpoint, iat now, exp an hour later) is accepted under the default `clientAuth.assertionMaxLifetime`,
 * and its jti is remembered for that whole hour, in memory and in Redis; further ahead is refused with a
 * description that names the setting. FAPI 2.0 clients keep a 300 s limit.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../src/storage/redis.ts';
import { dropRedisPrefix, redisUrl, uniqueName } from './backends.ts';
import { assertionType } from './client-assertion.ts';
import { issuer, startServer, type TestServer, testClients, tokenRequest } from './helpers.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let key: KeyPair;
let jwk: JWK;
const redisPrefix = `${uniqueName('gh_assertion')}:`;
const servers: TestServer[] = [];

beforeAll(async () => {
  key = await generateKeyPair('ES256', { extractable: true });
  jwk = { ...(await exportJWK(key.publicKey)), kid: 'authlib-1', alg: 'ES256' };
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await dropRedisPrefix(redisPrefix);
});

function jwtClient(clientId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clientId,
    name: `Authlib client ${clientId}`,
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
    requireConsent: false,
    ...extra,
  };
}

async function start(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const server = await startServer({
    clients: [...testClients(), jwtClient('authlib-app'), jwtClient('fapi-app', { profile: 'fapi2' })],
    ...overrides,
  });
  servers.push(server);
  return server;
}

/** What Authlib's private_key_jwt signs: iss = sub = client_id, aud the token endpoint, exp = iat + 3600. */
function authlibAssertion(
  clientId: string,
  iat: number,
  lifetime = 3600,
  jti = randomUUID(),
): Promise<string> {
  return new SignJWT({ iss: clientId, sub: clientId, aud: `${issuer}/token`, jti, iat, exp: iat + lifetime })
    .setProtectedHeader({ alg: 'ES256', kid: 'authlib-1' })
    .sign(key.privateKey);
}

function clientCredentials(server: TestServer, assertion: string) {
  return tokenRequest(server, {
    grant_type: 'client_credentials',
    client_assertion_type: assertionType,
    client_assertion: assertion,
  });
}

async function expectRefused(server: TestServer, assertion: string, description: RegExp) {
  const response = await clientCredentials(server, assertion);
  expect(response.status).toBe(401);
  expect(response.body.error).toBe('invalid_client');
  expect(response.body.error_description).toMatch(description);
}

describe.each(['memory', 'redis'] as const)('one-hour client assertions (jti cache in %s)', (cache) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start(cache === 'redis' ? { redis: { url: redisUrl, keyPrefix: redisPrefix } } : {});
  });

  it('accepts an Authlib-style assertion and remembers its jti until it expires', async () => {
    const iat = server.clock();
    const assertion = await authlibAssertion('authlib-app', iat);
    expect((await clientCredentials(server, assertion)).status).toBe(200);
    server.clock.advance(3500);
    try {
      await expectRefused(server, assertion, /already used/);
    } finally {
      server.clock.advance(-3500);
    }
    if (cache === 'redis') {
      const redis = await connectRedis(redisUrl);
      try {
        const keys = await redis.keys(`${redisPrefix}jti:client-assertion:authlib-app:*`);
        expect(keys).toHaveLength(1);
        expect(await redis.ttl(keys[0]!)).toBeGreaterThan(3600);
      } finally {
        redis.disconnect();
      }
    }
  });

  it('refuses exp further ahead than the setting, naming it', async () => {
    await expectRefused(
      server,
      await authlibAssertion('authlib-app', server.clock(), 3601),
      /^client assertion exp must be within 3600 seconds \(clientAuth\.assertionMaxLifetime\)$/,
    );
  });
});

describe('the assertion lifetime limits', () => {
  it('hold 300 s for a FAPI 2.0 client, and follow a lower configured setting', async () => {
    const server = await start();
    await expectRefused(
      server,
      await authlibAssertion('fapi-app', server.clock()),
      /^client assertion exp must be within 300 seconds \(the FAPI 2\.0 limit/,
    );
    // Within 300 s the client is authenticated; the profile then asks for a sender-constrained token.
    const within = await clientCredentials(server, await authlibAssertion('fapi-app', server.clock(), 300));
    expect(within.body.error).toBe('invalid_request');
    expect(within.body.error_description).toMatch(/sender-constrained/);

    const strict = await start({ clientAuth: { assertionMaxLifetime: 120 } });
    await expectRefused(
      strict,
      await authlibAssertion('authlib-app', strict.clock(), 121),
      /within 120 seconds \(clientAuth\.assertionMaxLifetime\)/,
    );
    await expectRefused(
      strict,
      await authlibAssertion('fapi-app', strict.clock(), 121),
      /within 120 seconds \(the FAPI 2\.0 limit, or clientAuth\.assertionMaxLifetime when lower\)/,
    );
  });
});
