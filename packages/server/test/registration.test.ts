/**
 * Dynamic client registration (RFC 7591) and its management (RFC 7592): openid-client registers over a real
 * port and runs a code flow with the client it got; every refusal of the registration policy; reading,
 * updating (the registration access token replaced) and deleting a registered client, after which it gets
 * no tokens; registration with an initial access token; the per-address rate limit; client ID metadata
 * documents served by a local server (allowed by configuration) and refused when they break the rules.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminConfig, operatorToken } from './admin-helpers.ts';
import { assertionType, clientAssertion } from './client-assertion.ts';
import {
  authorizationCode,
  authorizeUrl,
  basic,
  codeFlowTokens,
  codeParams,
  type GatehouseServer,
  parseConfig,
  pkcePair,
  postForm,
  postRaw,
  testConfig,
  useServer,
} from './helpers.ts';
import {
  authorizationParameters,
  FetchBrowser,
  type ListeningServer,
  startListening,
} from './interop-helpers.ts';

const initialAccessToken = 'initial-access-token-0123456789-abcdefghijklmnop';

/** Open registration; the tests register more clients from one address than `registerPerIp` allows by default. */
const openRegistration = {
  registration: { enabled: true, mode: 'open' },
  rateLimits: { registerPerIp: { limit: 1000, window: 60 } },
};

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
}

async function send(
  server: GatehouseServer,
  method: 'POST' | 'GET' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
  authorization?: string,
  remoteAddress?: string,
): Promise<Answer> {
  const response = await server.app.inject({
    method,
    url,
    headers: {
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      ...(authorization === undefined ? {} : { authorization }),
    },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    ...(remoteAddress === undefined ? {} : { remoteAddress }),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: response.body === '' ? {} : (JSON.parse(response.body) as Record<string, unknown>),
  };
}

const register = (server: GatehouseServer, metadata: unknown, authorization?: string) =>
  send(server, 'POST', '/register', metadata, authorization);

const webMetadata = {
  client_name: 'Registered Web App',
  redirect_uris: ['https://registered.example.com/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'openid profile offline_access',
};

/** The path of a registration_client_uri (the tests inject requests without the issuer). */
const pathOf = (uri: unknown) => new URL(String(uri)).pathname;

describe('openid-client registers and signs in with the registered client', () => {
  let server: ListeningServer;
  beforeAll(async () => {
    server = await startListening(openRegistration);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('discovery names the registration endpoint; the registered client runs a code flow', async () => {
    const metadata = (await (
      await fetch(`${server.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(metadata.registration_endpoint).toBe(`${server.issuer}/register`);

    const redirectUri = 'https://rp.example.com/callback';
    const config = await client.dynamicClientRegistration(
      new URL(server.issuer),
      {
        client_name: 'openid-client RP',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        scope: 'openid profile offline_access',
      },
      undefined,
      { execute: [client.allowInsecureRequests] },
    );
    const registered = config.clientMetadata();
    expect(registered.client_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(registered.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(registered.client_secret_expires_at).toBe(0);
    expect(registered.registration_access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(registered.registration_client_uri).toBe(`${server.issuer}/register/${registered.client_id}`);

    const authorization = await authorizationParameters(redirectUri, 'openid profile offline_access');
    const url = client.buildAuthorizationUrl(config, authorization.parameters);
    const { location, pages } = await new FetchBrowser(server.issuer).walk(url);
    // A registered client always asks for consent.
    expect(pages).toEqual(['login', 'consent']);
    const tokens = await client.authorizationCodeGrant(config, new URL(location), {
      pkceCodeVerifier: authorization.verifier,
      expectedState: authorization.state,
      expectedNonce: authorization.nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()?.aud).toBe(registered.client_id);
    expect(tokens.refresh_token).toBeDefined();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeDefined();
  });
});

describe('RFC 7591 registration: what is answered and stored', () => {
  const server = useServer(openRegistration);

  it('answers 201 per §3.2.1 with no-store, and stores the client with source registration, secrets hashed', async () => {
    const answer = await register(server, { ...webMetadata, logo_uri: 'https://x.example/l.png' });
    expect(answer.status).toBe(201);
    expect(answer.headers['cache-control']).toBe('no-store');
    const clientId = String(answer.body.client_id);
    expect(answer.body).toMatchObject({
      client_name: 'Registered Web App',
      redirect_uris: webMetadata.redirect_uris,
      grant_types: webMetadata.grant_types,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile offline_access',
      client_id_issued_at: server.clock(),
      client_secret_expires_at: 0,
    });
    // Metadata the server does not use is ignored (§2), not echoed.
    expect(answer.body.logo_uri).toBeUndefined();
    const stored = await server.ctx.storage.clients.find(clientId);
    expect(stored).toMatchObject({ source: 'registration', requireConsent: true });
    expect(JSON.stringify(stored)).not.toContain(String(answer.body.client_secret));
    const tokenHash = await server.ctx.storage.clients.registrationTokenHash(clientId);
    expect(tokenHash).toBeDefined();
    expect(tokenHash).not.toBe(answer.body.registration_access_token);

    // The client authenticates with the secret it was given.
    const tokens = await codeFlowTokens(
      server,
      { clientId, redirectUri: webMetadata.redirect_uris[0]!, scope: 'openid profile' },
      { authorization: basic(clientId, String(answer.body.client_secret)) },
    );
    expect(tokens.tokens.status).toBe(200);
  });

  it('a public native client: no secret, loopback and private-use redirect URIs', async () => {
    const answer = await register(server, {
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback', 'com.example.app:/oauth2redirect'],
      token_endpoint_auth_method: 'none',
    });
    expect(answer.status).toBe(201);
    expect(answer.body.client_secret).toBeUndefined();
    expect(answer.body.client_secret_expires_at).toBeUndefined();
    expect(answer.body.application_type).toBe('native');
    // No scope asked: the policy's scopes (here the identity resources').
    expect(answer.body.scope).toBe('openid profile email offline_access roles');
  });

  it('private_key_jwt with inline jwks', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const answer = await register(server, {
      redirect_uris: ['https://jwt.example.com/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [jwk] },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.client_secret).toBeUndefined();
    expect(answer.body.jwks).toEqual({ keys: [jwk] });
  });

  it('/register takes JSON only; other endpoints still refuse JSON with 415', async () => {
    const asForm = await postForm(server, '/register', { redirect_uris: 'https://a.example/cb' });
    expect(asForm.status).toBe(415);
    expect(asForm.body.error).toBe('invalid_request');
    const token = await postRaw(server, '/token', { 'content-type': 'application/json' }, '{}');
    expect(token.statusCode).toBe(415);
    const malformed = await postRaw(server, '/register', { 'content-type': 'application/json' }, '{"a":');
    expect(malformed.statusCode).toBe(400);
    expect(JSON.parse(malformed.body).error).toBe('invalid_client_metadata');
    const notObject = await postRaw(server, '/register', { 'content-type': 'application/json' }, '[1]');
    expect(JSON.parse(notObject.body).error).toBe('invalid_client_metadata');
  });
});

describe('RFC 7591 §3.2.2: every refusal of the registration policy', () => {
  const server = useServer({
    registration: {
      enabled: true,
      mode: 'open',
      policy: {
        grantTypes: ['authorization_code', 'refresh_token'],
        tokenEndpointAuthMethods: ['none', 'client_secret_basic', 'private_key_jwt'],
        scopes: ['openid', 'profile', 'offline_access'],
      },
    },
    rateLimits: openRegistration.rateLimits,
  });

  const refusals: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'an http redirect URI of a web client',
      { redirect_uris: ['http://rp.example.com/cb'] },
      'invalid_redirect_uri',
      /http only on a loopback|must use https/,
    ],
    [
      'a loopback redirect URI of a web client',
      { redirect_uris: ['http://127.0.0.1/cb'] },
      'invalid_redirect_uri',
      /web client/,
    ],
    [
      'a redirect URI with a fragment',
      { redirect_uris: ['https://rp.example.com/cb#x'] },
      'invalid_redirect_uri',
      /fragment/,
    ],
    ['a relative redirect URI', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri', /absolute/],
    [
      'a javascript: redirect URI',
      { application_type: 'native', redirect_uris: ['javascript:alert(1)'] },
      'invalid_redirect_uri',
      /forbidden scheme/,
    ],
    [
      'a native localhost redirect URI (RFC 8252 §8.3)',
      {
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://localhost/cb'],
      },
      'invalid_redirect_uri',
      /loopback IP literal/,
    ],
    [
      'a private-use scheme that is no reverse domain',
      { application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['myapp:/cb'] },
      'invalid_redirect_uri',
      /reverse domain/,
    ],
    [
      'no redirect URI for the code grant',
      { redirect_uris: [] },
      'invalid_redirect_uri',
      /at least one redirect URI/,
    ],
    [
      'a grant type the policy does not allow',
      { grant_types: ['client_credentials'], response_types: [] },
      'invalid_client_metadata',
      /grant type client_credentials is not allowed/,
    ],
    [
      'an unknown grant type',
      { grant_types: ['password'] },
      'invalid_client_metadata',
      /grant type password/,
    ],
    [
      'an auth method the policy does not allow',
      { token_endpoint_auth_method: 'client_secret_post' },
      'invalid_client_metadata',
      /client_secret_post is not allowed/,
    ],
    [
      'a scope the policy does not allow',
      { scope: 'openid orders.read' },
      'invalid_client_metadata',
      /scope orders.read is not allowed/,
    ],
    [
      'an implicit response type',
      { response_types: ['token'] },
      'invalid_client_metadata',
      /response type token/,
    ],
    [
      'response types that disagree with the grant types',
      { response_types: [] },
      'invalid_client_metadata',
      /go together/,
    ],
    [
      'private_key_jwt without keys',
      { token_endpoint_auth_method: 'private_key_jwt' },
      'invalid_client_metadata',
      /jwks: private_key_jwt needs exactly one of jwks or jwksUri/,
    ],
    [
      'jwks with a private key',
      {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' }] },
      },
      'invalid_client_metadata',
      /jwks/,
    ],
    [
      'a jwks_uri over http',
      { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example.com/jwks' },
      'invalid_client_metadata',
      /jwks_uri/,
    ],
    [
      'an unsupported signing algorithm',
      {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks_uri: 'https://keys.example.com/jwks',
        token_endpoint_auth_signing_alg: 'HS256',
      },
      'invalid_client_metadata',
      /HS256/,
    ],
    [
      'a client_name that is not a string',
      { client_name: 42 },
      'invalid_client_metadata',
      /client_name must be a string/,
    ],
    [
      'redirect_uris that is not a list',
      { redirect_uris: 'https://rp.example.com/cb' },
      'invalid_client_metadata',
      /redirect_uris must be an array/,
    ],
    [
      'an unknown application_type',
      { application_type: 'desktop' },
      'invalid_client_metadata',
      /application_type/,
    ],
    [
      'too many redirect URIs',
      { redirect_uris: Array.from({ length: 21 }, (_, i) => `https://rp.example.com/${i}`) },
      'invalid_client_metadata',
      /at most 20/,
    ],
  ];

  for (const [what, change, error, description] of refusals) {
    it(`refuses ${what}`, async () => {
      const answer = await register(server, {
        redirect_uris: ['https://rp.example.com/cb'],
        token_endpoint_auth_method: 'client_secret_basic',
        ...change,
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe(error);
      expect(String(answer.body.error_description)).toMatch(description);
      expect(answer.headers['cache-control']).toBe('no-store');
    });
  }

  it('stores nothing for a refused registration', async () => {
    const before = (await server.ctx.storage.clients.list()).length;
    await register(server, { redirect_uris: ['http://rp.example.com/cb'] });
    expect((await server.ctx.storage.clients.list()).length).toBe(before);
  });
});

describe('the FAPI 2.0 profile narrows registration', () => {
  const server = useServer({ profile: 'fapi2', clients: [], ...openRegistration });

  it('refuses secrets and public clients, and algorithms other than ES256/PS256', async () => {
    for (const method of ['client_secret_basic', 'none']) {
      const answer = await register(server, { ...webMetadata, token_endpoint_auth_method: method });
      expect(answer.body.error).toBe('invalid_client_metadata');
      expect(String(answer.body.error_description)).toMatch(/FAPI 2.0/);
    }
    const rs256 = await register(server, {
      redirect_uris: ['https://rp.example.com/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://keys.example.com/jwks',
      token_endpoint_auth_signing_alg: 'RS256',
    });
    expect(String(rs256.body.error_description)).toMatch(/ES256 or PS256/);
    const ok = await register(server, {
      redirect_uris: ['https://rp.example.com/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://keys.example.com/jwks',
      token_endpoint_auth_signing_alg: 'PS256',
    });
    expect(ok.status).toBe(201);
  });
});

describe('RFC 7592: read, update with a new registration access token, delete', () => {
  const server = useServer(openRegistration);

  it('reads the client with its registration access token; anything else is 401 invalid_token', async () => {
    const registered = (await register(server, webMetadata)).body;
    const path = pathOf(registered.registration_client_uri);
    const read = await send(server, 'GET', path, undefined, `Bearer ${registered.registration_access_token}`);
    expect(read.status).toBe(200);
    expect(read.headers['cache-control']).toBe('no-store');
    expect(read.body).toMatchObject({
      client_id: registered.client_id,
      redirect_uris: webMetadata.redirect_uris,
      registration_client_uri: registered.registration_client_uri,
      client_secret_expires_at: 0,
    });
    expect(read.body.client_secret).toBeUndefined();

    for (const authorization of [
      undefined,
      'Bearer wrong-token',
      `Basic ${registered.registration_access_token}`,
    ]) {
      const refused = await send(server, 'GET', path, undefined, authorization);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_token');
      expect(String(refused.headers['www-authenticate'])).toMatch(
        /^Bearer realm="gatehouse", error="invalid_token"/,
      );
    }
    // Another client's token, an unknown client, and a configured client are all the same 401.
    const other = (await register(server, webMetadata)).body;
    for (const target of [path, '/register/unknown-client', '/register/web-app']) {
      const refused = await send(
        server,
        'GET',
        target,
        undefined,
        `Bearer ${other.registration_access_token}`,
      );
      expect(refused.status).toBe(401);
    }
  });

  it('an update replaces the metadata and the registration access token; the old token stops working', async () => {
    const registered = (await register(server, webMetadata)).body;
    const path = pathOf(registered.registration_client_uri);
    const oldToken = `Bearer ${registered.registration_access_token}`;
    const changed = {
      ...webMetadata,
      client_id: registered.client_id,
      client_name: 'Renamed',
      redirect_uris: ['https://registered.example.com/cb2'],
    };
    const updated = await send(server, 'PUT', path, changed, oldToken);
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ client_name: 'Renamed', redirect_uris: changed.redirect_uris });
    expect(updated.body.registration_access_token).not.toBe(registered.registration_access_token);
    // The secret is kept (it is stored hashed, so not shown again).
    expect(updated.body.client_secret).toBeUndefined();
    const stored = await server.ctx.storage.clients.find(String(registered.client_id));
    expect(stored?.name).toBe('Renamed');

    expect((await send(server, 'GET', path, undefined, oldToken)).status).toBe(401);
    expect((await send(server, 'PUT', path, changed, oldToken)).status).toBe(401);
    const newToken = `Bearer ${updated.body.registration_access_token}`;
    expect((await send(server, 'GET', path, undefined, newToken)).status).toBe(200);

    // The kept secret still authenticates the client.
    const tokens = await codeFlowTokens(
      server,
      { clientId: String(registered.client_id), redirectUri: changed.redirect_uris[0]!, scope: 'openid' },
      { authorization: basic(String(registered.client_id), String(registered.client_secret)) },
    );
    expect(tokens.tokens.status).toBe(200);
  });

  it('an update is checked like a registration, needs the client_id, and a sent secret must be current', async () => {
    const registered = (await register(server, webMetadata)).body;
    const path = pathOf(registered.registration_client_uri);
    const token = `Bearer ${registered.registration_access_token}`;
    const missingId = await send(server, 'PUT', path, webMetadata, token);
    expect(missingId.body.error).toBe('invalid_request');
    const wrongSecret = await send(
      server,
      'PUT',
      path,
      { ...webMetadata, client_id: registered.client_id, client_secret: 'nope' },
      token,
    );
    expect(wrongSecret.body.error).toBe('invalid_request');
    const badUri = await send(
      server,
      'PUT',
      path,
      { ...webMetadata, client_id: registered.client_id, redirect_uris: ['http://x.example/cb'] },
      token,
    );
    expect(badUri.body.error).toBe('invalid_redirect_uri');
    // Refused updates leave the token as it was.
    expect((await send(server, 'GET', path, undefined, token)).status).toBe(200);
    // Moving to a public client drops the secret; moving back issues a new one.
    const publicNow = await send(
      server,
      'PUT',
      path,
      { ...webMetadata, client_id: registered.client_id, token_endpoint_auth_method: 'none' },
      token,
    );
    expect(publicNow.status).toBe(200);
    expect((await server.ctx.storage.clients.find(String(registered.client_id)))?.secrets).toEqual([]);
    const confidential = await send(
      server,
      'PUT',
      path,
      { ...webMetadata, client_id: registered.client_id },
      `Bearer ${publicNow.body.registration_access_token}`,
    );
    expect(confidential.body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(confidential.body.client_secret).not.toBe(registered.client_secret);
  });

  it('delete: 204, the client is gone, its refresh tokens are revoked and it cannot get tokens', async () => {
    const registered = (await register(server, webMetadata)).body;
    const clientId = String(registered.client_id);
    const secret = String(registered.client_secret);
    const { tokens } = await codeFlowTokens(
      server,
      { clientId, redirectUri: webMetadata.redirect_uris[0]!, scope: 'openid offline_access' },
      { authorization: basic(clientId, secret) },
    );
    expect(tokens.status).toBe(200);
    const refreshToken = String(tokens.body.refresh_token);
    const path = pathOf(registered.registration_client_uri);
    const token = `Bearer ${registered.registration_access_token}`;

    const deleted = await server.app.inject({
      method: 'DELETE',
      url: path,
      headers: { authorization: token },
    });
    expect(deleted.statusCode).toBe(204);
    expect(await server.ctx.storage.clients.find(clientId)).toBeUndefined();
    expect((await send(server, 'GET', path, undefined, token)).status).toBe(401);
    expect(
      (await server.app.inject({ method: 'DELETE', url: path, headers: { authorization: token } }))
        .statusCode,
    ).toBe(401);

    const refreshed = await postForm(
      server,
      '/token',
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      { authorization: basic(clientId, secret) },
    );
    expect(refreshed.status).toBe(401);
    expect(refreshed.body.error).toBe('invalid_client');
    // The grant, and so every token issued from it, is revoked.
    const grantId = String(decodeJwt(String(tokens.body.access_token)).grant_id);
    expect((await server.ctx.storage.grants.find(grantId))?.revokedAt).not.toBeNull();
  });
});

describe('registration with an initial access token', () => {
  const server = useServer({ registration: { enabled: true, initialAccessTokens: [initialAccessToken] } });

  it('needs one of the configured tokens as a Bearer token', async () => {
    const none = await register(server, webMetadata);
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_token');
    expect(String(none.headers['www-authenticate'])).toMatch(/^Bearer /);
    const wrong = await register(server, webMetadata, `Bearer ${initialAccessToken}x`);
    expect(wrong.status).toBe(401);
    const ok = await register(server, webMetadata, `Bearer ${initialAccessToken}`);
    expect(ok.status).toBe(201);
  });

  it('the token is checked before the body is read', async () => {
    const answer = await postRaw(server, '/register', { 'content-type': 'application/json' }, '{"a":');
    expect(answer.statusCode).toBe(401);
  });

  it('the configuration needs a token in this mode, and scopes it knows', () => {
    expect(() => parseConfig(testConfig({ registration: { enabled: true } }))).toThrow(/initialAccessTokens/);
    expect(() =>
      parseConfig(
        testConfig({ registration: { enabled: true, mode: 'open', policy: { scopes: ['nope'] } } }),
      ),
    ).toThrow(/unknown scope "nope"/);
  });
});

describe('registration off (the default) and its rate limit', () => {
  const off = useServer();
  const limited = useServer({
    ...openRegistration,
    rateLimits: { registerPerIp: { limit: 2, window: 3600 } },
  });

  it('is not served and not advertised when off', async () => {
    expect((await register(off, webMetadata)).status).toBe(404);
    const discovery = await off.app.inject({ url: '/.well-known/openid-configuration' });
    expect(JSON.parse(discovery.body).registration_endpoint).toBeUndefined();
  });

  it('registerPerIp counts registrations per address: 429 with Retry-After', async () => {
    const from = (address: string) => send(limited, 'POST', '/register', webMetadata, undefined, address);
    expect((await from('192.0.2.10')).status).toBe(201);
    expect((await from('192.0.2.10')).status).toBe(201);
    const third = await from('192.0.2.10');
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBeDefined();
    expect((await from('192.0.2.11')).status).toBe(201);
  });
});

describe('client ID metadata documents', () => {
  let documents: Server;
  let base: string;
  let fetches: string[] = [];
  const redirectUri = 'https://rp.example.com/cb';
  const documentFor = (path: string, extra: Record<string, unknown> = {}) => ({
    client_id: `${base}${path}`,
    client_name: 'Document Client',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid profile',
    ...extra,
  });

  let jwtKey: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwtPublicJwk: Record<string, unknown>;

  beforeAll(async () => {
    jwtKey = await generateKeyPair('ES256', { extractable: true });
    jwtPublicJwk = { ...(await exportJWK(jwtKey.publicKey)), kid: 'doc-key', alg: 'ES256' };
    documents = createServer((request, response) => {
      const path = request.url ?? '/';
      fetches.push(path);
      const json = (value: unknown, headers: Record<string, string> = {}) => {
        response.writeHead(200, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(value));
      };
      if (path === '/good.json') json(documentFor(path), { 'cache-control': 'max-age=600' });
      else if (path === '/other-id.json') json(documentFor('/good.json'));
      else if (path === '/secret.json')
        json(documentFor(path, { token_endpoint_auth_method: 'client_secret_basic' }));
      else if (path === '/http-redirect.json')
        json(documentFor(path, { redirect_uris: ['http://rp.example.com/cb'] }));
      else if (path === '/large.json') json(documentFor(path, { padding: 'x'.repeat(2048) }));
      else if (path === '/jwt.json')
        json(
          documentFor(path, {
            token_endpoint_auth_method: 'private_key_jwt',
            jwks: { keys: [jwtPublicJwk] },
          }),
        );
      else if (path === '/redirect.json') {
        response.writeHead(302, { location: '/good.json' });
        response.end();
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(documents.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    documents?.closeAllConnections();
    await new Promise<void>((resolve) => documents?.close(() => resolve()));
  });

  const server = useServer({
    clientIdMetadataDocuments: { enabled: true, allowPrivateAddresses: true, maxBytes: 1024 },
  });
  const guarded = useServer({ clientIdMetadataDocuments: { enabled: true } });

  /** /authorize for a document client: 303 to the login page, or the error page's status. */
  async function authorizeStatus(target: GatehouseServer, clientId: string): Promise<number> {
    const response = await target.app.inject({
      url: authorizeUrl(codeParams(pkcePair(), { clientId, redirectUri, scope: 'openid' })),
    });
    return response.statusCode;
  }

  it('discovery says documents are supported; a document client runs a code flow as a public client', async () => {
    const metadata = JSON.parse((await server.app.inject({ url: '/.well-known/openid-configuration' })).body);
    expect(metadata.client_id_metadata_document_supported).toBe(true);
    fetches = [];
    const clientId = `${base}/good.json`;
    const { tokens } = await codeFlowTokens(
      server,
      { clientId, redirectUri, scope: 'openid profile' },
      { authorization: undefined },
    );
    expect(tokens.status).toBe(200);
    expect(decodeJwt(String(tokens.body.id_token)).aud).toBe(clientId);
    // Fetched once for the whole flow: the answer's max-age=600 holds it...
    expect(fetches).toEqual(['/good.json']);
    // ...and no longer.
    server.clock.advance(601);
    expect(await authorizeStatus(server, clientId)).toBe(303);
    expect(fetches).toEqual(['/good.json', '/good.json']);
  });

  it('a document client may authenticate with private_key_jwt (keys in the document)', async () => {
    const clientId = `${base}/jwt.json`;
    const { code, pkce } = await authorizationCode(server, { clientId, redirectUri, scope: 'openid' });
    const assertion = await clientAssertion(clientId, jwtKey.privateKey, server.clock(), { kid: 'doc-key' });
    const tokens = await postForm(server, '/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: pkce.verifier,
      client_assertion_type: assertionType,
      client_assertion: assertion,
    });
    expect(tokens.status).toBe(200);
    // Without an assertion the client cannot pass as public.
    const unauthenticated = await postForm(server, '/token', {
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      redirect_uri: redirectUri,
      code_verifier: pkce.verifier,
    });
    expect(unauthenticated.status).toBe(401);
  });

  it('refuses a document whose client_id differs, that redirects, is too large, or breaks the rules', async () => {
    for (const path of [
      '/other-id.json',
      '/redirect.json',
      '/large.json',
      '/secret.json',
      '/http-redirect.json',
      '/missing.json',
    ]) {
      fetches = [];
      expect(await authorizeStatus(server, `${base}${path}`), path).toBe(400);
      // A redirect is never followed.
      expect(fetches, path).toEqual([path]);
    }
    // A refusal is remembered for a while: the host is not asked again at once.
    fetches = [];
    expect(await authorizeStatus(server, `${base}/other-id.json`)).toBe(400);
    expect(fetches).toEqual([]);
  });

  it('refuses a client ID URL without a path, with a fragment or dot segments, without fetching', async () => {
    fetches = [];
    for (const clientId of [`${base}/`, `${base}/a/../good.json`, `${base}/good.json#x`])
      expect(await authorizeStatus(server, clientId), clientId).toBe(400);
    expect(fetches).toEqual([]);
  });

  it('without allowPrivateAddresses: no private address and no http, not even connected to', async () => {
    fetches = [];
    const port = new URL(base).port;
    for (const clientId of [
      `https://127.0.0.1:${port}/good.json`,
      `https://localhost:${port}/good.json`,
      `${base}/good.json`,
    ])
      expect(await authorizeStatus(guarded, clientId), clientId).toBe(400);
    expect(fetches).toEqual([]);
  });
});

describe('registered clients and the admin tools', () => {
  const server = useServer({ ...openRegistration, ...adminConfig() });

  it('are listed, read and removed through the admin API, after which they get no tokens', async () => {
    const registered = await register(server, webMetadata);
    expect(registered.status).toBe(201);
    const clientId = registered.body.client_id as string;
    const secret = registered.body.client_secret as string;
    // The client authenticates (a made-up code is then invalid_grant, not invalid_client).
    const garbageCode = {
      grant_type: 'authorization_code',
      code: 'no-such-code',
      redirect_uri: 'https://registered.example.com/cb',
      code_verifier: 'x'.repeat(43),
    };
    const before = await postForm(server, '/token', garbageCode, { authorization: basic(clientId, secret) });
    expect(before.body.error).toBe('invalid_grant');

    const admin = `Bearer ${await operatorToken(server)}`;
    const read = await server.app.inject({
      method: 'GET',
      url: `/admin/v1/clients/${encodeURIComponent(clientId)}`,
      headers: { authorization: admin },
    });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ clientId, source: 'registration' });
    const listed = await server.app.inject({
      method: 'GET',
      url: '/admin/v1/clients?limit=100',
      headers: { authorization: admin },
    });
    expect(JSON.stringify(listed.json())).toContain(clientId);

    const removed = await server.app.inject({
      method: 'DELETE',
      url: `/admin/v1/clients/${encodeURIComponent(clientId)}`,
      headers: { authorization: admin, 'if-match': read.headers.etag as string },
    });
    expect(removed.statusCode).toBe(204);
    const afterwards = await postForm(server, '/token', garbageCode, {
      authorization: basic(clientId, secret),
    });
    expect(afterwards.status).toBe(401);
    expect(afterwards.body.error).toBe('invalid_client');
    const management = await send(
      server,
      'GET',
      `/register/${encodeURIComponent(clientId)}`,
      undefined,
      `Bearer ${registered.body.registration_access_token as string}`,
    );
    expect(management.status).toBe(401);
  });
});
