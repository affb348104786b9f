/**
 * Refresh-token lifetimes per client, absolute and idle (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2), and client
 * secrets that overlap during a rotation (RFC 6749 §2.3.1), driven through /token with the test clock:
 * every expiry here is counted from the server's own clock, never from the wall clock.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { checkClientSecret, rotateClientSecrets } from '../src/protocol/client-secrets.ts';
import { sha256Base64Url } from '../src/protocol/secrets.ts';
import { type DpopKey, dpopKey, proof } from './dpop-helpers.ts';
import {
  basic,
  codeFlowTokens,
  introspectToken,
  issuer,
  logCapture,
  postForm,
  refreshRequest,
  type TestServer,
  testClients,
  testConfig,
  tokenRequest,
  useServer,
  webAppAuth,
} from './helpers.ts';

const hour = 3600;
const day = 86400;
const spaRedirect = 'https://spa.example.com/callback';

/** The seed's single-page app: a public client whose refresh tokens live 24 hours, 2 idle. */
const spa = {
  clientId: 'spa',
  name: 'Single-Page App',
  tokenEndpointAuthMethod: 'none',
  grantTypes: ['authorization_code', 'refresh_token'],
  redirectUris: [spaRedirect],
  scopes: ['openid', 'profile', 'offline_access', 'api1.read'],
  refreshTokenLifetime: { absolute: day, idle: 2 * hour },
};

/** The seed's clients: web-app (confidential) keeps refresh tokens 90 days, 14 idle; native-app the defaults. */
function lifetimeClients(): Record<string, unknown>[] {
  return [
    ...testClients({ 'web-app': { refreshTokenLifetime: { absolute: 90 * day, idle: 14 * day } } }),
    spa,
  ];
}

/** A code flow of the SPA (public: client_id in the body, no secret). */
async function spaTokens(server: TestServer) {
  const { tokens } = await codeFlowTokens(
    server,
    { clientId: 'spa', redirectUri: spaRedirect, scope: 'openid offline_access api1.read' },
    {},
  );
  expect(tokens.status).toBe(200);
  return tokens.body.refresh_token as string;
}

function refreshAs(server: TestServer, clientId: string, refreshToken: string) {
  return clientId === 'web-app'
    ? refreshRequest(server, refreshToken)
    : tokenRequest(server, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
}

function expectExpired(response: { status: number; body: Record<string, unknown> }) {
  expect(response.status).toBe(400);
  expect(response.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token has expired' });
}

describe('refresh-token lifetimes per client', () => {
  const server = useServer({ clients: lifetimeClients(), tokens: { refreshTokenIdleTtl: 4 * hour } });

  it('refuses a refresh token left unused for longer than its idle lifetime', async () => {
    const refreshToken = await spaTokens(server);
    server.clock.advance(2 * hour);
    expectExpired(await refreshAs(server, 'spa', refreshToken));
  });

  it('keeps a token used within its idle lifetime working until the absolute lifetime, never past it', async () => {
    let refreshToken = await spaTokens(server);
    // Every 90 minutes for 22.5 hours: each rotation gives the next token two idle hours.
    for (let use = 0; use < 15; use++) {
      server.clock.advance(90 * 60);
      const refreshed = await refreshAs(server, 'spa', refreshToken);
      expect(refreshed.status).toBe(200);
      refreshToken = refreshed.body.refresh_token as string;
    }
    // 22.5 hours in, the newest token was issued with 2 idle hours, but the family ends at 24 hours.
    server.clock.advance(90 * 60);
    expectExpired(await refreshAs(server, 'spa', refreshToken));
  });

  it('gives each client its own lifetimes: the SPA signs in again after 24 hours, the webAppAuth app does not', async () => {
    let spaToken = await spaTokens(server);
    let webToken = (await codeFlowTokens(server)).tokens.body.refresh_token as string;
    // The webAppAuth app's token expires when idle for 14 days, within its 90 days (the introspected exp).
    const issuedAt = server.clock();
    expect((await introspectToken(server, webToken, webAppAuth)).body).toMatchObject({
      active: true,
      exp: issuedAt + 14 * day,
    });
    for (let use = 0; use < 16; use++) {
      server.clock.advance(90 * 60);
      const spaRefreshed = await refreshAs(server, 'spa', spaToken);
      const webRefreshed = await refreshAs(server, 'web-app', webToken);
      expect(webRefreshed.status).toBe(200);
      webToken = webRefreshed.body.refresh_token as string;
      if (use < 15) {
        expect(spaRefreshed.status).toBe(200);
        spaToken = spaRefreshed.body.refresh_token as string;
      } else {
        expectExpired(spaRefreshed);
      }
    }
    // The webAppAuth app's tokens still slide: 14 idle days from the last use.
    expect((await introspectToken(server, webToken, webAppAuth)).body).toMatchObject({
      active: true,
      exp: server.clock() + 14 * day,
    });
  });

  it('lets the family of a web-app token end at its absolute lifetime', async () => {
    let refreshToken = (await codeFlowTokens(server)).tokens.body.refresh_token as string;
    const authorizedAt = server.clock();
    for (const days of [10, 10, 10, 10, 10, 10, 10, 10, 9]) {
      server.clock.advance(days * day);
      const refreshed = await refreshAs(server, 'web-app', refreshToken);
      expect(refreshed.status).toBe(200);
      refreshToken = refreshed.body.refresh_token as string;
    }
    // 89 days in: 14 idle days would reach past the absolute lifetime, so the token ends with the family.
    expect((await introspectToken(server, refreshToken, webAppAuth)).body).toMatchObject({
      exp: authorizedAt + 90 * day,
    });
    server.clock.advance(authorizedAt + 90 * day - server.clock());
    expectExpired(await refreshAs(server, 'web-app', refreshToken));
  });

  it('applies tokens.refreshTokenIdleTtl to a client without lifetimes of its own', async () => {
    const { tokens } = await codeFlowTokens(
      server,
      {
        clientId: 'native-app',
        redirectUri: 'http://127.0.0.1/callback',
        scope: 'openid offline_access api1.read',
      },
      {},
    );
    const refreshed = await refreshAs(server, 'native-app', tokens.body.refresh_token as string);
    expect(refreshed.status).toBe(200);
    server.clock.advance(4 * hour);
    expectExpired(await refreshAs(server, 'native-app', refreshed.body.refresh_token as string));
  });

  it('still treats a rotated token replayed after its idle expiry as reuse, revoking the family', async () => {
    const first = await spaTokens(server);
    const second = (await refreshAs(server, 'spa', first)).body.refresh_token as string;
    server.clock.advance(hour);
    const third = (await refreshAs(server, 'spa', second)).body.refresh_token as string;
    server.clock.advance(hour + 60);
    const replayed = await refreshAs(server, 'spa', first);
    expect(replayed.body).toEqual({
      error: 'invalid_grant',
      error_description: 'refresh token was already used; the grant is revoked',
    });
    expect((await refreshAs(server, 'spa', third)).body.error).toBe('invalid_grant');
  });
});

describe('a kept refresh token (sender-constrained, not rotated)', () => {
  const server = useServer({
    clients: lifetimeClients(),
    tokens: { rotateSenderConstrainedRefreshTokens: false },
  });

  /** A refresh of web-app with a DPoP proof: sender-constrained, so the refresh token is kept. */
  async function useKept(key: DpopKey, refreshToken: string) {
    const dpop = await proof(key, { htu: `${issuer}/token`, iat: server.clock() });
    return postForm(
      server,
      '/token',
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      { authorization: webAppAuth, dpop },
    );
  }

  it('slides its idle expiry on each use up to the absolute lifetime, and expires when left unused', async () => {
    const key = await dpopKey();
    const refreshToken = (await codeFlowTokens(server)).tokens.body.refresh_token as string;
    const idleToken = (await codeFlowTokens(server)).tokens.body.refresh_token as string;
    const authorizedAt = server.clock();
    // web-app: 14 idle days within 90. Used every 10 days, the same token lives on.
    for (let use = 0; use < 8; use++) {
      server.clock.advance(10 * day);
      const kept = await useKept(key, refreshToken);
      expect(kept.status).toBe(200);
      expect(kept.body.refresh_token).toBeUndefined();
      expect((await introspectToken(server, refreshToken, webAppAuth)).body).toMatchObject({
        active: true,
        exp: Math.min(server.clock() + 14 * day, authorizedAt + 90 * day),
      });
    }
    // Never used, the other token ran out 14 days after it was issued.
    expectExpired(await useKept(key, idleToken));
    server.clock.advance(9 * day);
    expect((await useKept(key, refreshToken)).status).toBe(200);
    expect((await introspectToken(server, refreshToken, webAppAuth)).body.exp).toBe(authorizedAt + 90 * day);
    server.clock.advance(authorizedAt + 90 * day - server.clock());
    expectExpired(await useKept(key, refreshToken));
  });
});

describe('client secrets with an overlap', () => {
  const { lines, stream } = logCapture();
  const start = Math.floor(Date.now() / 1000);
  const newSecret = 'rotating-new-secret-0123456789-abcdefghijklmnop';
  const oldSecret = 'rotating-old-secret-0123456789-abcdefghijklmnop';
  const server = useServer(
    {
      logging: { level: 'info' },
      clients: [
        ...testClients(),
        {
          clientId: 'rotating',
          name: 'Rotating service',
          secrets: [
            { value: newSecret },
            { value: oldSecret, expiresAt: new Date((start + day) * 1000).toISOString() },
          ],
          grantTypes: ['client_credentials'],
          scopes: ['orders.read'],
          requireConsent: false,
        },
      ],
    },
    { logStream: stream },
  );
  const token = (secret: string) =>
    tokenRequest(server, { grant_type: 'client_credentials' }, basic('rotating', secret));

  it('accepts both configured secrets while the old one is inside its overlap, then only the new one', async () => {
    expect((await token(newSecret)).status).toBe(200);
    expect((await token(oldSecret)).status).toBe(200);
    server.clock.advance(start + day - 60 - server.clock());
    expect((await token(oldSecret)).status).toBe(200);
    server.clock.advance(60);
    const expired = await token(oldSecret);
    const wrong = await token('a-wrong-secret-0123456789-abcdefghijklmnopqrst');
    // An expired secret is answered exactly as a wrong one; only the audit trail tells them apart.
    expect(expired.status).toBe(401);
    expect(expired.text).toBe(wrong.text);
    expect(expired.headers['www-authenticate']).toBe(wrong.headers['www-authenticate']);
    expect((await token(newSecret)).status).toBe(200);
    const failures = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.audit === 'client_authentication_failed' && line.client_id === 'rotating');
    expect(failures.map((failure) => failure.reason)).toEqual(['secret_expired', undefined]);
    expect(lines.join('\n')).not.toContain(oldSecret);
  });
});

describe('client secret rules', () => {
  const secret = (value: string, expiresAt?: string) => ({
    value: `${value}-secret-0123456789-abcdefghijklmnop`,
    expiresAt,
  });
  const withClient = (client: Record<string, unknown>) =>
    testConfig({
      clients: [
        {
          clientId: 'svc',
          name: 'Service',
          grantTypes: ['client_credentials'],
          scopes: ['orders.read'],
          ...client,
        },
      ],
    });

  it('refuses a bad expiry, more than two secrets, and secret with secrets, naming the field', () => {
    expect(() => parseConfig(withClient({ secrets: [secret('a', 'next tuesday')] }), {})).toThrow(
      /clients\[0\]\.secrets\[0\]\.expiresAt: must be an ISO 8601 date-time with a zone/,
    );
    expect(() => parseConfig(withClient({ secrets: [secret('a', '2026-02-30T00:00:00Z')] }), {})).toThrow(
      /clients\[0\]\.secrets\[0\]\.expiresAt/,
    );
    expect(() => parseConfig(withClient({ secrets: [secret('a'), secret('b'), secret('c')] }), {})).toThrow(
      /clients\[0\]\.secrets: at most 2 secrets/,
    );
    expect(() => parseConfig(withClient({ secret: secret('a').value, secrets: [secret('b')] }), {})).toThrow(
      /clients\[0\]\.secrets: give either secret or secrets, not both/,
    );
    expect(() => parseConfig(withClient({}), {})).toThrow(/a confidential client needs a secret/);
    expect(
      parseConfig(withClient({ secrets: [secret('a'), secret('b', '2030-01-01T00:00:00+01:00')] }), {})
        .clients[0]?.secrets?.[1]?.expiresAt,
    ).toBe('2030-01-01T00:00:00+01:00');
  });

  it('refuses refresh-token lifetimes out of range, idle beyond absolute, or without refresh_token', () => {
    const withLifetime = (
      refreshTokenLifetime: unknown,
      grantTypes = ['authorization_code', 'refresh_token'],
    ) => testConfig({ clients: testClients({ 'web-app': { refreshTokenLifetime, grantTypes } }) });
    expect(() => parseConfig(withLifetime({ absolute: 60 }), {})).toThrow(/refreshTokenLifetime\.absolute/);
    expect(() => parseConfig(withLifetime({ absolute: day, idle: 2 * day }), {})).toThrow(
      /idle cannot be longer than its absolute lifetime/,
    );
    expect(() => parseConfig(withLifetime({ idle: hour }, ['authorization_code']), {})).toThrow(
      /refreshTokenLifetime needs the refresh_token grant type/,
    );
    expect(() => parseConfig(testConfig({ tokens: { refreshTokenIdleTtl: 10 } }), {})).toThrow(
      /tokens\.refreshTokenIdleTtl/,
    );
  });

  it('compares a secret with every slot and rotates to at most two', () => {
    const now = 1_800_000_000;
    const a = sha256Base64Url('secret-a');
    const b = sha256Base64Url('secret-b');
    const c = sha256Base64Url('secret-c');
    const two = [
      { hash: b, expiresAt: null },
      { hash: a, expiresAt: now + 10 },
    ];
    expect(checkClientSecret('secret-a', two, now)).toBe('valid');
    expect(checkClientSecret('secret-b', two, now + 100)).toBe('valid');
    expect(checkClientSecret('secret-a', two, now + 10)).toBe('expired');
    expect(checkClientSecret('secret-c', two, now)).toBe('invalid');
    expect(checkClientSecret('secret-a', undefined, now)).toBe('invalid');
    expect(checkClientSecret('secret-a', [], now)).toBe('invalid');
    // A rotation without overlap drops the previous secret; with one, keeps the newest previous only.
    expect(rotateClientSecrets(two, c, now, 0)).toEqual([{ hash: c, expiresAt: null }]);
    expect(rotateClientSecrets(two, c, now, hour)).toEqual([
      { hash: c, expiresAt: null },
      { hash: b, expiresAt: now + hour },
    ]);
    // An overlap never extends a previous secret's own earlier expiry; an expired one is not kept.
    const ending = [{ hash: b, expiresAt: now + 60 }];
    expect(rotateClientSecrets(ending, c, now, hour)[1]).toEqual({ hash: b, expiresAt: now + 60 });
    expect(rotateClientSecrets(ending, c, now + 60, hour)).toEqual([{ hash: c, expiresAt: null }]);
  });
});
