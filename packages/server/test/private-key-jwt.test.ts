/**
 * private_key_jwt client authentication (RFC 7523 §2.2, §3): assertions checked at /token, /introspect,
 * /revoke and /device_authorization alike, every negative RFC 7523 §3 names (each `invalid_client`), keys
 * registered inline or by jwks_uri fetched from a real local HTTP server, the address guard that refuses
 * loopback and private addresses by default (outbound-address.ts), timeouts, oversized documents,
 * redirects and key rotation.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { fetchClientJwks } from '../src/protocol/client-jwks.ts';
import { guardedLookup, isNonPublicAddress } from '../src/protocol/outbound-address.ts';
import { assertionType, clientAssertion } from './client-assertion.ts';
import {
  issuer,
  postForm,
  serviceSecret,
  serviceTokenRequest,
  startServer,
  testClients,
  testConfig,
  tokenRequest,
  useServer,
} from './helpers.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let inlineKey: KeyPair;
let inlineJwk: JWK;
let otherKey: KeyPair;
let remoteKey: KeyPair;
let rotatedKey: KeyPair;
let rsaKey: KeyPair;
let rsaJwk: JWK;

/** The local JWKS host: what each path answers is set by the tests. */
let jwksServer: Server;
let jwksBase: string;
const routes = new Map<string, (request: IncomingMessage, response: ServerResponse) => void>();
let fetches = 0;
let remoteKeys: JWK[] = [];

async function publicJwk(pair: KeyPair, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
}

beforeAll(async () => {
  const es256 = () => generateKeyPair('ES256', { extractable: true });
  [inlineKey, otherKey, remoteKey, rotatedKey] = await Promise.all([es256(), es256(), es256(), es256()]);
  rsaKey = await generateKeyPair('PS256', { extractable: true });
  inlineJwk = await publicJwk(inlineKey, 'inline-1', 'ES256');
  rsaJwk = await publicJwk(rsaKey, 'rsa-1', 'PS256');
  remoteKeys = [await publicJwk(remoteKey, 'remote-1', 'ES256')];

  routes.set('/jwks', (_request, response) => {
    fetches++;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: remoteKeys }));
  });
  jwksServer = createServer((request, response) => {
    const route = routes.get(request.url ?? '');
    if (route === undefined) response.writeHead(404).end();
    else route(request, response);
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksBase = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  jwksServer?.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer?.close(() => resolve()));
});

/** The client whose keys are at the local JWKS host's /jwks. */
function remoteClient(): Record<string, unknown> {
  return {
    clientId: 'jwt-remote',
    name: 'JWT Client with jwks_uri',
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwksUri: `${jwksBase}/jwks`,
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
  };
}

const server = useServer(async () => ({
  clients: [
    ...testClients(),
    {
      clientId: 'jwt-client',
      name: 'JWT Client',
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: { keys: [inlineJwk, rsaJwk] },
      grantTypes: [
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
        'authorization_code',
      ],
      redirectUris: ['https://jwt.example.com/cb'],
      scopes: ['openid', 'orders.read'],
      requireConsent: false,
    },
    {
      clientId: 'jwt-es256-only',
      name: 'JWT Client limited to ES256',
      tokenEndpointAuthMethod: 'private_key_jwt',
      tokenEndpointAuthSigningAlg: 'ES256',
      jwks: { keys: [inlineJwk, rsaJwk] },
      grantTypes: ['client_credentials'],
      scopes: ['orders.read'],
    },
    {
      clientId: 'jwt-other',
      name: 'Another JWT Client',
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: { keys: [await publicJwk(otherKey, 'other-1', 'ES256')] },
      grantTypes: ['client_credentials'],
      scopes: ['orders.read'],
    },
    remoteClient(),
    ...['slow', 'huge', 'chunked', 'redirect', 'broken', 'missing'].map((name) => ({
      clientId: `jwt-${name}`,
      name: `JWT Client (${name} jwks_uri)`,
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri: `${jwksBase}/${name}`,
      grantTypes: ['client_credentials'],
      scopes: ['orders.read'],
    })),
  ],
  clientAuth: { jwksUri: { allowPrivateAddresses: true, timeout: 300, maxBytes: 4096 } },
}));

interface AssertionOptions {
  clientId?: string;
  claims?: Record<string, unknown>;
  omit?: string[];
  key?: KeyPair;
  kid?: string;
  alg?: string;
}

function assertion(options: AssertionOptions = {}): Promise<string> {
  return clientAssertion(
    options.clientId ?? 'jwt-client',
    (options.key ?? inlineKey).privateKey,
    server.clock(),
    {
      kid: options.kid ?? 'inline-1',
      alg: options.alg ?? 'ES256',
      claims: options.claims ?? {},
      omit: options.omit ?? [],
    },
  );
}

function post(url: string, values: Record<string, string | undefined>, authorization?: string) {
  return postForm(server, url, values, { authorization });
}

function clientCredentials(token: string, extra: Record<string, string> = {}) {
  return tokenRequest(server, {
    grant_type: 'client_credentials',
    client_assertion_type: assertionType,
    client_assertion: token,
    ...extra,
  });
}

async function expectInvalidClient(
  response: Promise<{ status: number; body: Record<string, unknown> }>,
  description?: RegExp,
) {
  const { status, body } = await response;
  expect(body.error).toBe('invalid_client');
  expect(status).toBe(401);
  if (description) expect(body.error_description).toMatch(description);
}

describe('private_key_jwt with inline keys', () => {
  it('issues tokens for a valid assertion (ES256, and PS256 with an RSA key)', async () => {
    const response = await clientCredentials(await assertion());
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token as string)).toMatchObject({
      client_id: 'jwt-client',
      sub: 'jwt-client',
      aud: 'orders-api',
    });
    const rsa = await clientCredentials(await assertion({ key: rsaKey, kid: 'rsa-1', alg: 'PS256' }));
    expect(rsa.status).toBe(200);
  });

  it('accepts the token endpoint as aud and a client_id parameter that matches', async () => {
    const response = await clientCredentials(await assertion({ claims: { aud: `${issuer}/token` } }), {
      client_id: 'jwt-client',
    });
    expect(response.status).toBe(200);
  });

  it('refuses an assertion without sub, iss, exp or jti', async () => {
    await expectInvalidClient(clientCredentials(await assertion({ omit: ['sub'] })), /no sub/);
    await expectInvalidClient(clientCredentials(await assertion({ omit: ['iss'] })), /iss/);
    await expectInvalidClient(clientCredentials(await assertion({ omit: ['exp'] })), /exp/);
    await expectInvalidClient(clientCredentials(await assertion({ omit: ['jti'] })), /jti/);
    await expectInvalidClient(clientCredentials(await assertion({ omit: ['aud'] })), /aud/);
  });

  it('refuses iss different from sub', async () => {
    await expectInvalidClient(clientCredentials(await assertion({ claims: { iss: 'someone-else' } })), /iss/);
  });

  it('refuses a wrong aud, an aud list, and the token endpoint when that is configured off', async () => {
    await expectInvalidClient(
      clientCredentials(await assertion({ claims: { aud: 'https://other.example.com' } })),
      /aud/,
    );
    await expectInvalidClient(
      clientCredentials(await assertion({ claims: { aud: [issuer, 'https://other.example.com'] } })),
      /aud/,
    );
    const strict = await startServer({
      clients: [
        {
          clientId: 'jwt-client',
          name: 'JWT Client',
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwks: { keys: [inlineJwk] },
          grantTypes: ['client_credentials'],
          scopes: ['orders.read'],
        },
      ],
      clientAuth: { acceptTokenEndpointAudience: false },
    });
    try {
      const now = strict.clock();
      const sign = (aud: string) =>
        new SignJWT({ iss: 'jwt-client', sub: 'jwt-client', aud, jti: randomUUID(), exp: now + 60 })
          .setProtectedHeader({ alg: 'ES256', kid: 'inline-1' })
          .sign(inlineKey.privateKey);
      const request = async (aud: string) =>
        tokenRequest(strict, {
          grant_type: 'client_credentials',
          client_assertion_type: assertionType,
          client_assertion: await sign(aud),
        });
      await expectInvalidClient(request(`${issuer}/token`), /aud/);
      expect((await request(issuer)).status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('refuses an expired assertion, and one whose exp is further ahead than allowed', async () => {
    const now = server.clock();
    await expectInvalidClient(
      clientCredentials(await assertion({ claims: { iat: now - 600, exp: now - 120 } })),
      /expired/,
    );
    await expectInvalidClient(
      clientCredentials(await assertion({ claims: { exp: now + 3601 } })),
      /^client assertion exp must be within 3600 seconds \(clientAuth\.assertionMaxLifetime\)$/,
    );
    await expectInvalidClient(
      clientCredentials(await assertion({ claims: { iat: now + 3600, exp: now + 120 } })),
      /iat/,
    );
    expect((await clientCredentials(await assertion({ claims: { exp: now + 3600 } }))).status).toBe(200);
  });

  it('refuses a replayed jti', async () => {
    const token = await assertion();
    expect((await clientCredentials(token)).status).toBe(200);
    await expectInvalidClient(clientCredentials(token), /already used/);
    // The same jti in a fresh assertion is a replay too.
    const { jti } = decodeJwt(token);
    await expectInvalidClient(clientCredentials(await assertion({ claims: { jti } })), /already used/);
  });

  it('refuses alg none, HS256 signed with the client secret or the public key, and a disallowed alg', async () => {
    const claims = decodeJwt(await assertion());
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'none' })}.${encode({ ...claims, jti: randomUUID() })}.`;
    await expectInvalidClient(clientCredentials(unsigned), /algorithm/);
    const hs256 = (secret: Uint8Array) =>
      new SignJWT({ ...claims, jti: randomUUID() })
        .setProtectedHeader({ alg: 'HS256', kid: 'inline-1' })
        .sign(secret);
    await expectInvalidClient(
      clientCredentials(await hs256(new TextEncoder().encode(JSON.stringify(inlineJwk)))),
      /algorithm/,
    );
    // A client_secret_basic client cannot switch to an HS256 assertion keyed with its secret.
    const now = server.clock();
    const secretAssertion = await new SignJWT({
      iss: 'service-a',
      sub: 'service-a',
      aud: issuer,
      jti: randomUUID(),
      exp: now + 60,
    })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(serviceSecret));
    await expectInvalidClient(clientCredentials(secretAssertion), /client_secret_basic/);
    // PS256 is a configured algorithm, but this client registered ES256 only.
    await expectInvalidClient(
      clientCredentials(
        await assertion({ clientId: 'jwt-es256-only', key: rsaKey, kid: 'rsa-1', alg: 'PS256' }),
      ),
      /algorithm/,
    );
    expect((await clientCredentials(await assertion({ clientId: 'jwt-es256-only' }))).status).toBe(200);
  });

  it('refuses a bad signature, an unknown kid, and a key of another client', async () => {
    const token = await assertion();
    const [header, payload] = token.split('.');
    const other = (await assertion({ key: otherKey })).split('.')[2];
    await expectInvalidClient(clientCredentials(`${header}.${payload}.${other}`), /signature/);
    await expectInvalidClient(clientCredentials(await assertion({ kid: 'nope' })), /no registered key/);
    // Signed by jwt-other's key, naming jwt-client: jwt-client's keys do not verify it.
    await expectInvalidClient(clientCredentials(await assertion({ key: otherKey, kid: 'other-1' })));
  });

  it('refuses an assertion for another client and a client_id that does not match it', async () => {
    // jwt-other signs an assertion claiming to be jwt-client: checked against jwt-client's keys.
    await expectInvalidClient(
      clientCredentials(await assertion({ clientId: 'jwt-client', key: otherKey, kid: 'inline-1' })),
      /signature/,
    );
    await expectInvalidClient(
      clientCredentials(await assertion({ clientId: 'jwt-other', key: otherKey, kid: 'other-1' }), {
        client_id: 'jwt-client',
      }),
      /does not match/,
    );
    await expectInvalidClient(clientCredentials(await assertion({ clientId: 'no-such-client' })), /failed/);
  });

  it('refuses two authentication methods at once, a wrong assertion type, and garbage', async () => {
    const token = await assertion();
    await expectInvalidClient(
      serviceTokenRequest(server, { client_assertion_type: assertionType, client_assertion: token }),
      /more than one/,
    );
    await expectInvalidClient(
      clientCredentials(token, { client_id: 'jwt-client', client_secret: serviceSecret }),
      /more than one/,
    );
    await expectInvalidClient(
      tokenRequest(server, {
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        client_assertion: token,
      }),
      /client_assertion_type/,
    );
    await expectInvalidClient(
      tokenRequest(server, { grant_type: 'client_credentials', client_assertion_type: assertionType }),
      /required/,
    );
    await expectInvalidClient(clientCredentials('not.a.jwt'), /not a JWT/);
    await expectInvalidClient(clientCredentials('x'.repeat(9000)), /too long/);
    // A private_key_jwt client presenting only its client_id is refused.
    await expectInvalidClient(
      tokenRequest(server, { grant_type: 'client_credentials', client_id: 'jwt-client' }),
      /private_key_jwt/,
    );
  });

  it('authenticates pushed authorization requests (RFC 9126) the same way', async () => {
    const pushed = {
      response_type: 'code',
      redirect_uri: 'https://jwt.example.com/cb',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      client_assertion_type: assertionType,
    };
    const token = await assertion();
    const response = await post('/par', { ...pushed, client_assertion: token });
    expect(response.status).toBe(201);
    expect(response.body.request_uri).toEqual(expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/));
    await expectInvalidClient(post('/par', { ...pushed, client_assertion: token }), /already used/);
    await expectInvalidClient(
      post('/par', {
        ...pushed,
        client_assertion: await assertion({ claims: { aud: 'https://elsewhere' } }),
      }),
      /aud/,
    );
  });

  it('authenticates the same way at /introspect, /revoke and /device_authorization', async () => {
    const issued = await clientCredentials(await assertion());
    const token = issued.body.access_token as string;
    const introspection = await post('/introspect', {
      token,
      client_assertion_type: assertionType,
      client_assertion: await assertion(),
    });
    expect(introspection.status).toBe(200);
    expect(introspection.body).toMatchObject({ active: true, client_id: 'jwt-client' });
    await expectInvalidClient(
      post('/introspect', {
        token,
        client_assertion_type: assertionType,
        client_assertion: await assertion({ kid: 'nope' }),
      }),
    );
    const device = await post('/device_authorization', {
      scope: 'openid',
      client_assertion_type: assertionType,
      client_assertion: await assertion(),
    });
    expect(device.status).toBe(200);
    expect(device.body.device_code).toEqual(expect.any(String));
    await expectInvalidClient(
      post('/device_authorization', {
        scope: 'openid',
        client_assertion_type: assertionType,
        client_assertion: await assertion({ omit: ['sub'] }),
      }),
      /no sub/,
    );
    const replayed = await assertion();
    const revoke = await post('/revoke', {
      token,
      client_assertion_type: assertionType,
      client_assertion: replayed,
    });
    expect(revoke.status).toBe(200);
    await expectInvalidClient(
      post('/revoke', { token, client_assertion_type: assertionType, client_assertion: replayed }),
      /already used/,
    );
    const after = await post('/introspect', {
      token,
      client_assertion_type: assertionType,
      client_assertion: await assertion(),
    });
    expect(after.body).toEqual({ active: false });
  });
});

describe('private_key_jwt with keys from jwks_uri', () => {
  const remote = (options: AssertionOptions = {}) =>
    assertion({ clientId: 'jwt-remote', key: remoteKey, kid: 'remote-1', ...options });

  it('fetches the key set from a real local server and caches it', async () => {
    const before = fetches;
    expect((await clientCredentials(await remote())).status).toBe(200);
    expect((await clientCredentials(await remote())).status).toBe(200);
    expect(fetches - before).toBeLessThanOrEqual(1);
  });

  it('refetches once when a new kid appears (rotation), but not for every unknown kid', async () => {
    await clientCredentials(await remote());
    remoteKeys = [...remoteKeys, await publicJwk(rotatedKey, 'remote-2', 'ES256')];
    server.clock.advance(31);
    const before = fetches;
    expect((await clientCredentials(await remote({ key: rotatedKey, kid: 'remote-2' }))).status).toBe(200);
    expect(fetches - before).toBe(1);
    await expectInvalidClient(clientCredentials(await remote({ kid: 'made-up-1' })));
    await expectInvalidClient(clientCredentials(await remote({ kid: 'made-up-2' })));
    expect(fetches - before).toBe(1);
  });

  it('gives up on a jwks_uri that does not answer in time, and does not ask again at once', async () => {
    let requests = 0;
    routes.set('/slow', () => {
      requests++;
    });
    const attempt = async () =>
      expectInvalidClient(clientCredentials(await remote({ clientId: 'jwt-slow' })), /could not be fetched/);
    await attempt();
    await attempt();
    expect(requests).toBe(1);
    server.clock.advance(31);
    await attempt();
    expect(requests).toBe(2);
  });

  it('refuses a JWKS larger than the cap, declared or streamed', async () => {
    const big = JSON.stringify({ keys: remoteKeys, padding: 'x'.repeat(8000) });
    routes.set('/huge', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(big);
    });
    routes.set('/chunked', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write(big.slice(0, 3000));
      response.end(big.slice(3000));
    });
    await expectInvalidClient(
      clientCredentials(await remote({ clientId: 'jwt-huge' })),
      /could not be fetched/,
    );
    await expectInvalidClient(
      clientCredentials(await remote({ clientId: 'jwt-chunked' })),
      /could not be fetched/,
    );
  });

  it('refuses broken documents, private keys, error statuses and redirect loops', async () => {
    routes.set('/broken', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [{"kty":');
    });
    routes.set('/missing', (_request, response) => {
      const privateJwk = { ...remoteKeys[0], d: 'c2VjcmV0' };
      response.writeHead(200).end(JSON.stringify({ keys: [privateJwk] }));
    });
    routes.set('/redirect', (_request, response) => {
      response.writeHead(302, { location: '/redirect' }).end();
    });
    for (const clientId of ['jwt-broken', 'jwt-missing', 'jwt-redirect']) {
      await expectInvalidClient(clientCredentials(await remote({ clientId })), /could not be fetched/);
    }
  });

  it('follows a redirect to an allowed address', async () => {
    // The redirect loop above failed moments ago: let the failure age out first.
    server.clock.advance(31);
    routes.set('/redirect', (_request, response) => {
      response.writeHead(302, { location: `${jwksBase}/jwks` }).end();
    });
    const response = await clientCredentials(await remote({ clientId: 'jwt-redirect' }));
    expect(response.status).toBe(200);
  });
});

describe('the jwks_uri address guard', () => {
  it('refuses loopback addresses by default (the server is local, so the fetch never happens)', async () => {
    const guarded = await startServer({
      clients: [
        remoteClient(),
        {
          clientId: 'jwt-localhost',
          name: 'JWT Client with a localhost jwks_uri',
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwksUri: `${jwksBase.replace('127.0.0.1', 'localhost')}/jwks`,
          grantTypes: ['client_credentials'],
          scopes: ['orders.read'],
        },
      ],
    });
    try {
      const before = fetches;
      for (const clientId of ['jwt-remote', 'jwt-localhost']) {
        const token = await clientAssertion(clientId, remoteKey.privateKey, guarded.clock(), {
          kid: 'remote-1',
          omit: ['iat'],
        });
        const response = await tokenRequest(guarded, {
          grant_type: 'client_credentials',
          client_assertion_type: assertionType,
          client_assertion: token,
        });
        expect(response.status).toBe(401);
        expect(response.body.error).toBe('invalid_client');
      }
      expect(fetches).toBe(before);
    } finally {
      await guarded.close();
    }
  });

  it('classifies addresses: private, loopback, link-local, unique-local and embedded IPv4 are refused', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'fc12:3456::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '::ffff:169.254.169.254',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::',
      'ff02::1',
      'not-an-address',
    ]) {
      expect(isNonPublicAddress(address), address).toBe(true);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect(isNonPublicAddress(address), address).toBe(false);
    }
  });

  it('refuses literal and resolved non-public addresses before connecting, whatever their spelling', async () => {
    const options = { allowPrivateAddresses: false, timeout: 1000, maxBytes: 4096, cacheTtl: 0 };
    const port = new URL(jwksBase).port;
    const before = fetches;
    for (const url of [
      `https://127.0.0.1:${port}/jwks`,
      `https://[::1]:${port}/jwks`,
      `https://[::ffff:127.0.0.1]:${port}/jwks`,
      `https://[::ffff:7f00:1]:${port}/jwks`,
      `https://localhost:${port}/jwks`,
      `http://localhost:${port}/jwks`,
    ]) {
      await expect(fetchClientJwks(url, options), url).rejects.toThrow(/non-public address/);
    }
    await expect(fetchClientJwks(`http://10.0.0.1:${port}/jwks`, options)).rejects.toThrow(/https/);
    expect(fetches).toBe(before);
  });

  it('fails the DNS lookup of a name that resolves to loopback', async () => {
    const error = await new Promise<Error | null>((resolve) =>
      guardedLookup('localhost', {}, (lookupError) => resolve(lookupError)),
    );
    expect(error?.name).toBe('BlockedAddressError');
  });
});

describe('client registration for private_key_jwt', () => {
  const base = { name: 'C', grantTypes: ['client_credentials'], scopes: ['orders.read'] };
  const parse =
    (client: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    () =>
      parseConfig(testConfig({ clients: [{ ...base, clientId: 'c', ...client }], ...extra }));

  it('needs exactly one of jwks and jwksUri, public keys only, and no secret', () => {
    expect(parse({ tokenEndpointAuthMethod: 'private_key_jwt' })).toThrow(/jwks/);
    expect(
      parse({
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [inlineJwk] },
        jwksUri: 'https://c.example.com/jwks',
      }),
    ).toThrow(/exactly one/);
    expect(
      parse({
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [{ ...inlineJwk, d: 'c2VjcmV0' }] },
      }),
    ).toThrow(/public key/);
    expect(
      parse({ tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }),
    ).toThrow();
    expect(
      parse({
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [inlineJwk] },
        secret: serviceSecret,
      }),
    ).toThrow(/no secret/);
    expect(
      parse({ tokenEndpointAuthMethod: 'private_key_jwt', jwksUri: 'http://jwks.example.com/jwks' }),
    ).toThrow(/https/);
    expect(parse({ tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [inlineJwk] } })).not.toThrow();
  });
});
