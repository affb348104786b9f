/**
 * Claims (issue 16): per-API access-token claims from configuration (user claims, roles, `scope`/`scp`),
 * reserved names refused at start-up, the claims hook of the embedding API (computed claims, reserved ones
 * dropped and logged by name, a failing hook answered 503 with the code left unused), and the OpenID
 * Connect `claims` request parameter (Core §5.5) through real code flows into ID tokens, userinfo and
 * refreshed ID tokens, at /authorize and /par.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGatehouse } from '../src/index.ts';
import type { ClaimsHookContext } from '../src/tokens/claims-hook.ts';
import {
  apiSecret,
  authorizationCode,
  authorizeThroughLogin,
  Browser,
  basic,
  buildServer,
  codeParams,
  codeRequest,
  type GatehouseServer,
  introspectToken,
  logCapture,
  parseConfig,
  password,
  pkcePair,
  postForm,
  redeemCode,
  refreshRequest,
  serviceTokenRequest,
  testClients,
  testClock,
  testConfig,
  webAppAuth,
  webRedirect,
} from './helpers.ts';

const api1Secret = `${apiSecret}-api1`;
const reportsSecret = `${apiSecret}-reports`;
const trustedSecret = 'trusted-app-test-secret-0123456789-abcdefghijk';

/**
 * orders-api: email and name, roles always, scope and scp; api1 (opaque): email, never roles, scp only;
 * reports-api: scp only, nothing else.
 */
function claimsConfig(): Record<string, unknown> {
  return testConfig({
    logging: { level: 'error' },
    apiScopes: [
      { name: 'orders.read', description: 'Read your orders' },
      { name: 'orders.write', description: 'Change your orders' },
      { name: 'api1.read', description: 'Read API 1' },
      { name: 'reports.read', description: 'Read reports' },
    ],
    apiResources: [
      {
        id: 'orders-api',
        uris: ['https://api.example.com/orders'],
        scopes: ['orders.read', 'orders.write'],
        secret: apiSecret,
        claims: { user: ['email', 'name'], roles: true },
        scopeClaim: 'both',
      },
      {
        id: 'api1',
        uris: ['https://api1.example.com'],
        scopes: ['api1.read'],
        secret: api1Secret,
        accessTokenFormat: 'opaque',
        claims: { user: ['email'], roles: false },
        scopeClaim: 'scp',
      },
      {
        id: 'reports-api',
        uris: ['https://reports.example.com'],
        scopes: ['reports.read'],
        secret: reportsSecret,
        scopeClaim: 'scp',
      },
    ],
    clients: [
      ...testClients(),
      {
        clientId: 'trusted-app',
        name: 'Trusted App',
        secret: trustedSecret,
        grantTypes: ['authorization_code', 'refresh_token'],
        redirectUris: [webRedirect],
        scopes: ['openid', 'profile', 'email', 'offline_access', 'orders.read', 'reports.read'],
        requireConsent: false,
      },
    ],
  });
}

type HookMode = 'computed' | 'reserved' | 'throws' | 'not-an-object';
let hookMode: HookMode = 'computed';
const hookCalls: ClaimsHookContext[] = [];
const log = logCapture();
let server: GatehouseServer;

beforeAll(async () => {
  server = await buildServer(parseConfig(claimsConfig()), {
    clock: testClock(),
    logStream: log.stream,
    claims: async (context) => {
      hookCalls.push(context);
      if (hookMode === 'throws') throw new TypeError('secret-bearing message 7f3a');
      if (hookMode === 'not-an-object') return ['tenant'] as unknown as Record<string, unknown>;
      const computed: Record<string, unknown> = { tenant: 'acme', grant: context.grantType };
      if (hookMode === 'reserved')
        Object.assign(computed, { sub: 'evil-value', scope: 'admin', roles: ['Root'], cnf: { jkt: 'x' } });
      return computed;
    },
  });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  hookMode = 'computed';
  hookCalls.length = 0;
});

/** Redeems a code of `clientId` (web-app by default). */
function redeem(code: string, verifier: string, clientId = 'web-app') {
  return redeemCode(
    server,
    code,
    verifier,
    {},
    {
      authorization: clientId === 'web-app' ? webAppAuth : basic('trusted-app', trustedSecret),
    },
  );
}

/** A full code flow with `extra` authorization parameters; the token response. */
async function codeFlow(scope: string, extra: Record<string, string> = {}, clientId = 'web-app') {
  const { pkce, code } = await authorizationCode(server, { clientId, scope, extra });
  const tokens = await redeem(code, pkce.verifier, clientId);
  expect(tokens.status).toBe(200);
  return tokens.body;
}

async function userinfo(accessToken: string) {
  const response = await server.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  expect(response.statusCode).toBe(200);
  return JSON.parse(response.body) as Record<string, unknown>;
}

describe('per-API access-token claims from configuration', () => {
  it('copies user claims and roles into the token, with scope and scp, and introspection says the same', async () => {
    const tokens = await codeFlow('openid orders.read');
    const access = decodeJwt(tokens.access_token as string);
    expect(access).toMatchObject({
      aud: 'orders-api',
      email: 'alice@example.com',
      name: 'Alice Smith',
      // roles: true on orders-api releases roles without the roles scope.
      roles: ['OrderAdmin'],
      scope: 'openid orders.read',
      scp: ['openid', 'orders.read'],
      tenant: 'acme',
      grant: 'authorization_code',
    });
    expect(access.email_verified).toBeUndefined();
    const introspected = await introspectToken(server, tokens.access_token as string);
    expect(introspected.body).toMatchObject({
      active: true,
      email: 'alice@example.com',
      roles: ['OrderAdmin'],
      scp: ['openid', 'orders.read'],
      tenant: 'acme',
    });
  });

  it('keeps roles out for an API that says never, and stores an opaque token with its claims', async () => {
    const tokens = await codeFlow('openid roles api1.read');
    const token = tokens.access_token as string;
    expect(token.split('.')).toHaveLength(1);
    const introspected = await introspectToken(server, token, basic('api1', api1Secret));
    expect(introspected.body).toMatchObject({
      active: true,
      aud: 'api1',
      email: 'alice@example.com',
      // RFC 7662 §2.2: introspection states `scope` whatever the API's scopeClaim.
      scope: 'openid roles api1.read',
      scp: ['openid', 'roles', 'api1.read'],
      tenant: 'acme',
    });
    expect(introspected.body.roles).toBeUndefined();
    expect(introspected.body.name).toBeUndefined();
  });

  it('merges the choices of every API of a token with several audiences', async () => {
    const tokens = await codeFlow('openid orders.read api1.read');
    const introspected = await introspectToken(server, tokens.access_token as string);
    expect(introspected.body).toMatchObject({
      active: true,
      aud: ['orders-api', 'api1'],
      email: 'alice@example.com',
      name: 'Alice Smith',
      roles: ['OrderAdmin'],
      scp: ['openid', 'orders.read', 'api1.read'],
    });
  });

  it('issues a JWT with scp and no scope to an scp-only API; userinfo and introspection still read its scopes', async () => {
    const tokens = await codeFlow('openid reports.read', {}, 'trusted-app');
    const access = decodeJwt(tokens.access_token as string);
    expect(access.scp).toEqual(['openid', 'reports.read']);
    expect(access.scope).toBeUndefined();
    expect(access.roles).toBeUndefined();
    expect(tokens.scope).toBe('openid reports.read');
    expect((await userinfo(tokens.access_token as string)).sub).toBe(access.sub);
    const introspected = await introspectToken(
      server,
      tokens.access_token as string,
      basic('reports-api', reportsSecret),
    );
    expect(introspected.body).toMatchObject({
      active: true,
      scope: 'openid reports.read',
      scp: ['openid', 'reports.read'],
    });
  });

  it('gives a client-credentials token scope and scp and the computed claims, and no user claims', async () => {
    const response = await serviceTokenRequest(server);
    expect(response.status).toBe(200);
    const access = decodeJwt(response.body.access_token as string);
    expect(access).toMatchObject({
      sub: 'service-a',
      scope: 'orders.read',
      scp: ['orders.read'],
      tenant: 'acme',
      grant: 'client_credentials',
    });
    expect(access.email).toBeUndefined();
    expect(access.roles).toBeUndefined();
    expect(hookCalls).toEqual([
      {
        subject: 'service-a',
        clientId: 'service-a',
        audiences: ['orders-api'],
        scopes: ['orders.read'],
        grantType: 'client_credentials',
      },
    ]);
  });
});

describe('reserved access-token claims in configuration', () => {
  function apiWithUserClaims(user: string[]) {
    return testConfig({
      apiResources: [
        { id: 'orders-api', scopes: ['orders.read', 'orders.write'], claims: { user } },
        { id: 'api1', scopes: ['api1.read'] },
      ],
    });
  }

  it('refuses each reserved name at start-up, naming the field', () => {
    for (const [index, name] of ['sub', 'scope', 'scp', 'cnf', 'act', 'client_id', 'aud', 'exp'].entries()) {
      const user = ['email', 'name'];
      user.splice(index % 2, 0, name);
      expect(() => parseConfig(apiWithUserClaims(user))).toThrow(
        new RegExp(
          `^config apiResources\\[0\\]\\.claims\\.user\\[${index % 2}\\]: "${name}" is a reserved access-token claim`,
        ),
      );
    }
  });

  it('points roles to claims.roles, and accepts ordinary claims', () => {
    expect(() => parseConfig(apiWithUserClaims(['roles']))).toThrow(/use claims\.roles: true/);
    const config = parseConfig(apiWithUserClaims(['email', 'department']));
    expect(config.apiResources[0]?.claims).toEqual({ user: ['email', 'department'] });
    expect(config.apiResources[0]?.scopeClaim).toBe('scope');
  });

  it('refuses an unknown scopeClaim or an unknown member of claims', () => {
    const base = testConfig();
    const withApi = (api: Record<string, unknown>) =>
      parseConfig({ ...base, apiResources: [{ id: 'orders-api', scopes: ['orders.read'], ...api }] });
    expect(() => withApi({ scopeClaim: 'scopes' })).toThrow(/apiResources\[0\]\.scopeClaim/);
    expect(() => withApi({ claims: { users: ['email'] } })).toThrow(/apiResources\[0\]\.claims/);
  });
});

describe('the claims hook', () => {
  it('drops reserved claims it returns and logs their names, never their values', async () => {
    hookMode = 'reserved';
    log.lines.length = 0;
    const response = await serviceTokenRequest(server);
    expect(response.status).toBe(200);
    const access = decodeJwt(response.body.access_token as string);
    expect(access).toMatchObject({ sub: 'service-a', scope: 'orders.read', tenant: 'acme' });
    expect(access.roles).toBeUndefined();
    expect(access.cnf).toBeUndefined();
    const dropped = log.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'claims hook returned a reserved claim; it was dropped')
      .map((line) => line.claim);
    expect(dropped.sort()).toEqual(['cnf', 'roles', 'scope', 'sub']);
    expect(log.lines.join('\n')).not.toContain('evil-value');
  });

  it('fails a token request with 503 temporarily_unavailable when it throws, and the code stays usable', async () => {
    const { pkce, code } = await authorizationCode(server, { scope: 'openid orders.read' });
    hookMode = 'throws';
    log.lines.length = 0;
    const failed = await redeem(code, pkce.verifier);
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the token could not be issued; try again later',
    });
    expect(log.lines.join('\n')).toContain('claims hook failed');
    expect(log.lines.join('\n')).not.toContain('7f3a');
    hookMode = 'computed';
    const redeemed = await redeem(code, pkce.verifier);
    expect(redeemed.status).toBe(200);
  });

  it('fails the same way when it returns something other than an object', async () => {
    hookMode = 'not-an-object';
    const response = await serviceTokenRequest(server);
    expect(response.status).toBe(503);
    expect(response.body.error).toBe('temporarily_unavailable');
  });
});

describe('the claims request parameter (OpenID Connect Core §5.5)', () => {
  it('is announced in discovery', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    const document = JSON.parse(response.body) as Record<string, unknown>;
    expect(document.claims_parameter_supported).toBe(true);
    expect(document.claims_supported).toEqual(expect.arrayContaining(['email', 'name', 'roles']));
  });

  it('puts an essential id_token claim in the ID token and keeps it on refresh', async () => {
    const claims = JSON.stringify({
      id_token: { email: { essential: true }, name: null },
      userinfo: { name: { essential: true } },
    });
    const tokens = await codeFlow('openid email offline_access orders.read', { claims });
    // userinfo: the email scope's claims; name belongs to profile, which the user was not asked about.
    expect(await userinfo(tokens.access_token as string)).toEqual({
      sub: expect.any(String),
      email: 'alice@example.com',
      email_verified: true,
    });
    const idToken = decodeJwt(tokens.id_token as string);
    expect(idToken.email).toBe('alice@example.com');
    // web-app asks for consent: only claims of the consented scopes (email, not profile's name).
    expect(idToken.name).toBeUndefined();
    expect(idToken.email_verified).toBeUndefined();

    const refreshed = await refreshRequest(server, tokens.refresh_token as string);
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.id_token as string).email).toBe('alice@example.com');
    expect(decodeJwt(refreshed.body.access_token as string)).toMatchObject({ grant: 'refresh_token' });
    const again = await refreshRequest(server, refreshed.body.refresh_token as string);
    expect(decodeJwt(again.body.id_token as string).email).toBe('alice@example.com');
  });

  it('adds requested userinfo claims to the scope claims, within what the client may be given', async () => {
    const claims = JSON.stringify({
      userinfo: { email: { essential: true }, name: null, nickname: null, iss: null },
      id_token: { name: { essential: true }, acr: { values: ['urn:mace:incommon:iap:silver'] } },
    });
    const tokens = await codeFlow('openid orders.read', { claims }, 'trusted-app');
    const info = await userinfo(tokens.access_token as string);
    // Scope claims of openid (sub), and the requested email and name (trusted-app, registered for
    // profile and email, needs no consent); nickname is no claim of any scope, iss not a user claim.
    expect(info).toEqual({
      sub: expect.any(String),
      email: 'alice@example.com',
      name: 'Alice Smith',
    });
    const idToken = decodeJwt(tokens.id_token as string);
    expect(idToken.name).toBe('Alice Smith');
    // acr is the server's own: a voluntary request naming no supported value changes nothing (protocol/acr.ts).
    expect(idToken.acr).toBe('urn:gatehouse:acr:pwd');
  });

  it('leaves out a claim the account does not have, even an essential one', async () => {
    const claims = JSON.stringify({ id_token: { email: { essential: true } } });
    const { pkce, code } = await authorizationCode(server, {
      clientId: 'trusted-app',
      scope: 'openid orders.read',
      extra: { claims },
    });
    expect(code).toBeTruthy();
    const tokens = await redeem(code, pkce.verifier, 'trusted-app');
    expect(decodeJwt(tokens.body.id_token as string).email).toBe('alice@example.com');

    const bob = new Browser(server);
    const bobPkce = pkcePair();
    const redirect = await authorizeThroughLogin(
      bob,
      codeRequest(bobPkce, { clientId: 'trusted-app', scope: 'openid orders.read', extra: { claims } }),
      { username: 'bob', password },
    );
    const bobTokens = await redeem(redirect.searchParams.get('code')!, bobPkce.verifier, 'trusted-app');
    expect(bobTokens.status).toBe(200);
    expect(decodeJwt(bobTokens.body.id_token as string).email).toBeUndefined();
  });

  it('refuses a malformed claims parameter with an invalid_request redirect', async () => {
    const malformed = [
      'not json',
      '["userinfo"]',
      '"userinfo"',
      'null',
      '{"userinfo": ["email"]}',
      '{"id_token": {"email": true}}',
      '{"id_token": {"email": {"essential": "yes"}}}',
      '{"userinfo": {"email": {"values": "a"}}}',
    ];
    for (const claims of malformed) {
      const pkce = pkcePair();
      const response = await new Browser(server).get(codeRequest(pkce, { extra: { claims } }));
      expect(response.statusCode).toBe(303);
      const location = new URL(response.headers.location as string);
      expect(`${location.origin}${location.pathname}`).toBe(webRedirect);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toMatch(/^claims parameter /);
      expect(location.searchParams.get('state')).toBe('state-123');
    }
  });

  it('is validated at /par and carried through a pushed request', async () => {
    const pkce = pkcePair();
    const params = codeParams(pkce, { scope: 'openid orders.read' });
    const refused = await postForm(
      server,
      '/par',
      { ...params, client_id: undefined, claims: '{"id_token": 5}' },
      { authorization: basic('trusted-app', trustedSecret) },
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');

    const pushed = await postForm(
      server,
      '/par',
      {
        ...params,
        client_id: undefined,
        claims: JSON.stringify({ id_token: { email: { essential: true } } }),
      },
      { authorization: basic('trusted-app', trustedSecret) },
    );
    expect(pushed.status).toBe(201);
    const redirect = await authorizeThroughLogin(
      new Browser(server),
      `/authorize?client_id=trusted-app&request_uri=${encodeURIComponent(pushed.body.request_uri as string)}`,
    );
    const tokens = await redeem(redirect.searchParams.get('code')!, pkce.verifier, 'trusted-app');
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string).email).toBe('alice@example.com');
  });
});

describe('the claims option of createGatehouse', () => {
  it('reaches the access tokens of an embedded server', async () => {
    const gatehouse = await createGatehouse({
      config: testConfig(),
      clock: testClock(),
      claims: ({ clientId }) => ({ department: `dept-of-${clientId}` }),
    });
    try {
      const response = await serviceTokenRequest(gatehouse);
      expect(decodeJwt(response.body.access_token as string).department).toBe('dept-of-service-a');
    } finally {
      await gatehouse.close();
    }
  });
});
