/**
 * Interoperability: every flow driven end to end by a third-party relying party (openid-client v6, on top
 * of oauth4webapi) against the server listening on a real loopback port. openid-client does the protocol
 * checks itself: discovery metadata, RFC 9207 `iss`, state, PKCE, id_token validation (signature via the
 * JWKS with non-repudiation checks on, iss, aud, azp, nonce, exp, iat), token responses and userinfo `sub`.
 */

import { createHash } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { password, serviceSecret, testClients, testConfig, webSecret } from './helpers.ts';
import {
  authorizationParameters,
  FetchBrowser,
  type ListeningServer,
  startListening,
} from './interop-helpers.ts';

let server: ListeningServer;
let issuer: string;

/** Extra users so that each test that asserts which pages appear has a user with no consent on record. */
const users = [
  ...(testConfig().users as Record<string, unknown>[]),
  { username: 'carol', password, claims: { name: 'Carol White', email: 'carol@example.com' } },
  { username: 'dave', password, claims: { name: 'Dave Brown' } },
  { username: 'erin', password, claims: { name: 'Érin Grün 🌱' } },
];
const alice = { username: 'alice', password };
const bob = { username: 'bob', password };
const carol = { username: 'carol', password };
const dave = { username: 'dave', password };
const erin = { username: 'erin', password };

/** A confidential client whose id and secret need RFC 6749 §2.3.1 form-encoding in the Basic header. */
const oddId = 'odd.client~1';
const oddSecret = "s3cret with spaces:colons+plus/slash%percent&amp=eq!*'()~é";
const clients = [
  ...testClients(),
  {
    clientId: oddId,
    name: 'Odd Client',
    secret: oddSecret,
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
    requireConsent: false,
  },
];

const webRedirect = 'https://webapp.example.com/signin-oidc';
const jwtRedirect = 'https://jwt.example.com/cb';
/** The private_key_jwt client's key pair (RFC 7523): the public half is registered inline. */
let jwtAppKey: Awaited<ReturnType<typeof generateKeyPair>>;

beforeAll(async () => {
  jwtAppKey = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(jwtAppKey.publicKey)), kid: 'jwt-app-1', alg: 'ES256', use: 'sig' };
  clients.push({
    clientId: 'jwt-app',
    name: 'private_key_jwt client',
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirectUris: [jwtRedirect],
    scopes: ['openid', 'profile', 'offline_access', 'orders.read'],
    requireConsent: false,
  });
  server = await startListening({ users, clients });
  issuer = server.issuer;
});
afterAll(async () => {
  await server?.close();
});

function discover(
  clientId: string,
  secret: string | undefined,
  auth: client.ClientAuth,
  at: string = issuer,
) {
  return client.discovery(new URL(at), clientId, secret, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
}

const webApp = () => discover('web-app', webSecret, client.ClientSecretBasic(webSecret));
const nativeApp = () => discover('native-app', undefined, client.None());

interface Started {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
  redirectUri: string;
}

async function startAuthorization(
  config: client.Configuration,
  redirectUri: string,
  scope: string,
  extra: [string, string][] = [],
): Promise<Started> {
  const authorization = await authorizationParameters(redirectUri, scope);
  const { verifier, state, nonce } = authorization;
  const parameters = new URLSearchParams(authorization.parameters);
  for (const [name, value] of extra) parameters.append(name, value);
  const url = client.buildAuthorizationUrl(config, parameters);
  return { url, verifier, state, nonce, redirectUri };
}

function exchange(
  config: client.Configuration,
  started: Started,
  location: string,
  tokenParameters?: Record<string, string>,
) {
  return client.authorizationCodeGrant(
    config,
    new URL(location),
    {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    },
    tokenParameters,
  );
}

/** OpenID Connect Core §3.1.3.6: base64url of the left half of SHA-256 of the access token (ES256). */
function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** A full code flow; returns the tokens (validated by openid-client) and what the user saw. */
async function codeFlow(
  config: client.Configuration,
  redirectUri: string,
  scope: string,
  user: { username: string; password: string },
  browser = new FetchBrowser(issuer),
) {
  const started = await startAuthorization(config, redirectUri, scope);
  const { location, pages } = await browser.walk(started.url, { user });
  const tokens = await exchange(config, started, location);
  return { started, location, pages, tokens, browser };
}

async function expectOAuthError(promise: Promise<unknown>, error: string): Promise<unknown> {
  const failure = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(failure).toBeInstanceOf(client.ResponseBodyError);
  expect((failure as client.ResponseBodyError).error).toBe(error);
  return failure;
}

describe('interop with openid-client over a real port', () => {
  it('listens on the issuer URL', () => {
    expect(server.address).toBe(issuer);
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('discovery: openid-client accepts the OpenID and RFC 8414 metadata', async () => {
    const config = await webApp();
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(issuer);
    expect(metadata.authorization_endpoint).toBe(`${issuer}/authorize`);
    expect(metadata.token_endpoint).toBe(`${issuer}/token`);
    expect(metadata.userinfo_endpoint).toBe(`${issuer}/userinfo`);
    expect(metadata.jwks_uri).toBe(`${issuer}/jwks`);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.response_modes_supported).toEqual(['query']);
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256']);
    expect([...(metadata.grant_types_supported ?? [])].sort()).toEqual([
      'authorization_code',
      'client_credentials',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    expect(metadata.device_authorization_endpoint).toBe(`${issuer}/device_authorization`);
    expect(metadata.grant_types_supported).not.toContain('implicit');
    expect(metadata.grant_types_supported).not.toContain('password');
    expect(metadata.token_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      'none',
    ]);
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toContain('ES256');
    expect(metadata.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email', 'roles', 'offline_access', 'orders.read']),
    );
    expect(metadata.supportsPKCE()).toBe(true);

    const oauthMetadata = (
      await client.discovery(new URL(issuer), 'web-app', webSecret, client.ClientSecretBasic(webSecret), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      })
    ).serverMetadata();
    expect(oauthMetadata.issuer).toBe(issuer);
    expect(oauthMetadata.token_endpoint).toBe(`${issuer}/token`);
    expect(oauthMetadata.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('auth code + PKCE, confidential client (client_secret_basic): id_token, access token, userinfo', async () => {
    const config = await webApp();
    const scope = 'openid profile email roles offline_access orders.read';
    const { started, location, pages, tokens } = await codeFlow(config, webRedirect, scope, alice);

    expect(pages).toEqual(['login', 'consent']);
    const redirect = new URL(location);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(webRedirect);
    expect(redirect.searchParams.get('iss')).toBe(issuer);
    expect(redirect.searchParams.get('state')).toBe(started.state);

    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe(scope);
    expect(tokens.expires_in).toBe(600);
    expect(typeof tokens.refresh_token).toBe('string');
    const claims = tokens.claims();
    expect(claims).toBeDefined();
    expect(claims).toMatchObject({
      iss: issuer,
      aud: 'web-app',
      azp: 'web-app',
      nonce: started.nonce,
      acr: 'urn:gatehouse:acr:pwd',
      amr: ['pwd'],
    });
    expect(typeof claims?.sub).toBe('string');
    expect(typeof claims?.auth_time).toBe('number');
    expect(typeof claims?.sid).toBe('string');
    expect(claims?.at_hash).toBe(atHash(tokens.access_token));
    expect((claims?.exp as number) - (claims?.iat as number)).toBe(3600);

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer,
      audience: 'orders-api',
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({
      sub: claims?.sub,
      client_id: 'web-app',
      scope,
      roles: ['OrderAdmin'],
      auth_time: claims?.auth_time,
    });

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims?.sub as string);
    expect(userinfo).toEqual({
      sub: claims?.sub,
      name: 'Alice Smith',
      preferred_username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      roles: ['OrderAdmin'],
    });
  });

  it('auth code + PKCE, public client (none) with an RFC 8252 loopback redirect on any port', async () => {
    const config = await nativeApp();
    const redirectUri = 'http://127.0.0.1:49321/callback';
    const scope = 'openid profile offline_access api1.read';
    const { started, location, pages, tokens } = await codeFlow(config, redirectUri, scope, alice);

    expect(pages).toEqual(['login', 'consent']);
    const redirect = new URL(location);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(redirectUri);
    expect(redirect.searchParams.get('iss')).toBe(issuer);

    expect(tokens.scope).toBe(scope);
    expect(typeof tokens.refresh_token).toBe('string');
    const claims = tokens.claims();
    expect(claims).toMatchObject({ iss: issuer, aud: 'native-app', azp: 'native-app', nonce: started.nonce });

    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer,
      audience: 'api1',
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: claims?.sub, client_id: 'native-app', scope });
    expect(payload.roles).toBeUndefined();

    // No email or roles scope: userinfo releases the profile claims only.
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims?.sub as string);
    expect(userinfo).toEqual({ sub: claims?.sub, name: 'Alice Smith', preferred_username: 'alice' });
  });

  it('the public client cannot redeem its code without the PKCE verifier that matches', async () => {
    const config = await nativeApp();
    const started = await startAuthorization(config, 'http://127.0.0.1:50001/callback', 'openid api1.read');
    const { location } = await new FetchBrowser(issuer).walk(started.url, { user: bob });
    await expectOAuthError(
      client.authorizationCodeGrant(config, new URL(location), {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: started.state,
        expectedNonce: started.nonce,
      }),
      'invalid_grant',
    );
  });

  describe.each([
    {
      name: 'confidential web-app',
      make: webApp,
      redirectUri: webRedirect,
      scope: 'openid offline_access orders.read',
    },
    {
      name: 'public native-app',
      make: nativeApp,
      redirectUri: 'http://127.0.0.1:61000/callback',
      scope: 'openid offline_access api1.read',
    },
  ])('refresh token rotation, $name', ({ make, redirectUri, scope }) => {
    it('rotates on every use; reuse of a rotated token fails and revokes the family', async () => {
      const config = await make();
      const { tokens } = await codeFlow(config, redirectUri, scope, bob);
      const sub = tokens.claims()?.sub;
      const first = tokens.refresh_token as string;
      expect(typeof first).toBe('string');

      const second = await client.refreshTokenGrant(config, first);
      expect(typeof second.refresh_token).toBe('string');
      expect(second.refresh_token).not.toBe(first);
      expect(second.scope).toBe(scope);
      // OpenID Connect Core §12.2: the refreshed id_token keeps the subject and the original auth_time.
      expect(second.claims()).toMatchObject({
        iss: issuer,
        sub,
        auth_time: tokens.claims()?.auth_time,
        sid: tokens.claims()?.sid,
      });
      expect(second.claims()?.at_hash).toBe(atHash(second.access_token));
      expect(await client.fetchUserInfo(config, second.access_token, sub as string)).toEqual({ sub });

      const third = await client.refreshTokenGrant(config, second.refresh_token as string);
      expect(typeof third.refresh_token).toBe('string');
      expect(new Set([first, second.refresh_token, third.refresh_token]).size).toBe(3);

      // The first token was rotated away: using it again is refused and revokes the whole family.
      const reuse = await expectOAuthError(client.refreshTokenGrant(config, first), 'invalid_grant');
      expect((reuse as client.ResponseBodyError).status).toBe(400);
      await expectOAuthError(
        client.refreshTokenGrant(config, third.refresh_token as string),
        'invalid_grant',
      );
    });
  });

  it('a refresh may narrow the scope, never widen it', async () => {
    const config = await webApp();
    const { tokens } = await codeFlow(
      config,
      webRedirect,
      'openid offline_access orders.read orders.write',
      bob,
    );
    const narrowed = await client.refreshTokenGrant(config, tokens.refresh_token as string, {
      scope: 'openid orders.read',
    });
    expect(narrowed.scope).toBe('openid orders.read');
    expect(decodeJwt(narrowed.access_token).scope).toBe('openid orders.read');
    await expectOAuthError(
      client.refreshTokenGrant(config, narrowed.refresh_token as string, { scope: 'openid profile' }),
      'invalid_scope',
    );
  });

  it('client credentials (client_secret_basic): an RFC 9068 access token for the API', async () => {
    const config = await discover('service-a', serviceSecret, client.ClientSecretBasic(serviceSecret));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'orders.read' });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('orders.read');
    expect(tokens.expires_in).toBe(600);
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.id_token).toBeUndefined();

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer,
      audience: 'orders-api',
      typ: 'at+jwt',
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: 'service-a', client_id: 'service-a', scope: 'orders.read' });
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);

    // A client token carries no user and no openid scope: userinfo refuses it with a Bearer challenge.
    const failure = await client.fetchUserInfo(config, tokens.access_token, 'service-a').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = (failure as client.WWWAuthenticateChallengeError).cause[0];
    expect(challenge?.scheme).toBe('bearer');
    expect(challenge?.parameters.error).toBe('insufficient_scope');
  });

  it('client credentials (client_secret_post)', async () => {
    const config = await discover('post-app', webSecret, client.ClientSecretPost(webSecret));
    const tokens = await client.clientCredentialsGrant(config);
    expect(tokens.scope).toBe('orders.read');
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), {
      issuer,
      audience: 'orders-api',
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: 'post-app', client_id: 'post-app' });

    // The wrong authentication method for the client is refused: 401 invalid_client with a Basic challenge
    // (RFC 6749 §5.2), which openid-client surfaces as a WWW-Authenticate challenge error.
    const wrong = await discover('post-app', webSecret, client.ClientSecretBasic(webSecret));
    const failure = await client.clientCredentialsGrant(wrong).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challengeError = failure as client.WWWAuthenticateChallengeError;
    expect(challengeError.status).toBe(401);
    expect(challengeError.cause[0]?.scheme).toBe('basic');
    expect(await challengeError.response.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('private_key_jwt (RFC 7523): openid-client signs the assertions for the code flow, refresh and client credentials', async () => {
    const auth = client.PrivateKeyJwt({ key: jwtAppKey.privateKey, kid: 'jwt-app-1' });
    const config = await discover('jwt-app', undefined, auth);
    const { tokens } = await codeFlow(
      config,
      jwtRedirect,
      'openid profile offline_access orders.read',
      carol,
    );
    expect(tokens.claims()?.aud).toBe('jwt-app');
    expect(decodeJwt(tokens.access_token)).toMatchObject({ client_id: 'jwt-app', aud: 'orders-api' });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    const service = await client.clientCredentialsGrant(config, { scope: 'orders.read' });
    expect(decodeJwt(service.access_token)).toMatchObject({ sub: 'jwt-app', client_id: 'jwt-app' });

    // Pushed authorization request (RFC 9126) authenticated with a fresh assertion, then the code flow.
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const pushed = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: jwtRedirect,
      scope: 'openid orders.read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    expect(pushed.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const { location } = await new FetchBrowser(issuer).walk(pushed, { user: carol });
    const viaPar = await client.authorizationCodeGrant(config, new URL(location), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(decodeJwt(viaPar.access_token)).toMatchObject({ client_id: 'jwt-app', aud: 'orders-api' });
    const introspection = await client.tokenIntrospection(config, service.access_token);
    expect(introspection).toMatchObject({ active: true, client_id: 'jwt-app' });

    // Signed with a key the client did not register: invalid_client.
    const stranger = await generateKeyPair('ES256');
    const wrong = await discover(
      'jwt-app',
      undefined,
      client.PrivateKeyJwt({ key: stranger.privateKey, kid: 'jwt-app-1' }),
    );
    const failure = await client.clientCredentialsGrant(wrong).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect(await (failure as client.WWWAuthenticateChallengeError).response.json()).toMatchObject({
      error: 'invalid_client',
    });
  });

  it('client_secret_basic with an id and secret that need form-encoding (RFC 6749 §2.3.1)', async () => {
    const config = await discover(oddId, oddSecret, client.ClientSecretBasic(oddSecret));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'orders.read' });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: oddId, client_id: oddId, aud: 'orders-api' });

    const wrong = await discover(oddId, `${oddSecret}x`, client.ClientSecretBasic(`${oddSecret}x`));
    const failure = await client.clientCredentialsGrant(wrong).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect((failure as client.WWWAuthenticateChallengeError).status).toBe(401);
  });

  it('resource indicators (RFC 8707): the token request and refresh pick one of the granted APIs', async () => {
    const config = await webApp();
    const ordersUri = 'https://api.example.com/orders';
    const api1Uri = 'https://api1.example.com';
    const started = await startAuthorization(
      config,
      webRedirect,
      'openid offline_access orders.read api1.read',
      [
        ['resource', ordersUri],
        ['resource', api1Uri],
      ],
    );
    const { location } = await new FetchBrowser(issuer).walk(started.url, { user: erin });
    const tokens = await exchange(config, started, location, { resource: ordersUri });
    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    const orders = await jwtVerify(tokens.access_token, jwks, {
      issuer,
      audience: 'orders-api',
      typ: 'at+jwt',
    });
    expect(orders.payload.aud).toBe('orders-api');
    expect(orders.payload.scope).toBe('openid offline_access orders.read');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string, {
      resource: api1Uri,
    });
    const api1 = await jwtVerify(refreshed.access_token, jwks, { issuer, audience: 'api1', typ: 'at+jwt' });
    expect(api1.payload.aud).toBe('api1');
    expect(api1.payload.scope).toBe('openid offline_access api1.read');

    await expectOAuthError(
      client.refreshTokenGrant(config, refreshed.refresh_token as string, {
        resource: 'https://unknown.example.com',
      }),
      'invalid_target',
    );
  });

  it('max_age=0 makes a signed-in user authenticate again (OpenID Connect Core §3.1.2.1)', async () => {
    const config = await webApp();
    const browser = new FetchBrowser(issuer);
    const first = await codeFlow(config, webRedirect, 'openid', erin, browser);
    expect(first.pages).toContain('login');

    const again = await startAuthorization(config, webRedirect, 'openid', [['max_age', '0']]);
    const { location, pages } = await browser.walk(again.url, { user: erin });
    expect(pages).toEqual(['login']);
    const tokens = await client.authorizationCodeGrant(config, new URL(location), {
      pkceCodeVerifier: again.verifier,
      expectedState: again.state,
      expectedNonce: again.nonce,
      maxAge: 0,
    });
    const claims = tokens.claims();
    expect(claims?.sub).toBe(first.tokens.claims()?.sub);
    expect(typeof claims?.auth_time).toBe('number');
    // Re-authenticating the same user keeps the session (and its sid), so other clients stay signed in.
    expect(claims?.sid).toBe(first.tokens.claims()?.sid);
    expect(claims?.auth_time as number).toBeGreaterThanOrEqual(first.tokens.claims()?.auth_time as number);
  });

  it('an IPv6 loopback redirect ([::1], any port) works for the public client', async () => {
    const config = await nativeApp();
    const redirectUri = 'http://[::1]:50123/callback';
    const { location, tokens } = await codeFlow(config, redirectUri, 'openid profile api1.read', erin);
    const redirect = new URL(location);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(redirectUri);
    const sub = tokens.claims()?.sub as string;
    expect(tokens.claims()).toMatchObject({ iss: issuer, aud: 'native-app' });
    // Non-ASCII claims survive the JSON round trip.
    expect(await client.fetchUserInfo(config, tokens.access_token, sub)).toEqual({
      sub,
      name: 'Érin Grün 🌱',
      preferred_username: 'erin',
    });
  });

  it('Deny on consent returns access_denied with state and iss; openid-client raises AuthorizationResponseError', async () => {
    const config = await webApp();
    const started = await startAuthorization(config, webRedirect, 'openid profile');
    const { location, pages } = await new FetchBrowser(issuer).walk(started.url, {
      user: carol,
      decision: 'deny',
    });
    expect(pages).toEqual(['login', 'consent']);

    const redirect = new URL(location);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(webRedirect);
    expect(redirect.searchParams.get('error')).toBe('access_denied');
    expect(redirect.searchParams.get('state')).toBe(started.state);
    expect(redirect.searchParams.get('iss')).toBe(issuer);
    expect(redirect.searchParams.has('code')).toBe(false);

    const failure = await exchange(config, started, location).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(client.AuthorizationResponseError);
    expect((failure as client.AuthorizationResponseError).error).toBe('access_denied');
  });

  it('single sign-on: a second request in the same browser needs no pages and keeps auth_time and sid', async () => {
    const config = await webApp();
    const browser = new FetchBrowser(issuer);
    const first = await codeFlow(config, webRedirect, 'openid profile', dave, browser);
    expect(first.pages).toEqual(['login', 'consent']);

    const second = await codeFlow(config, webRedirect, 'openid profile', dave, browser);
    expect(second.pages).toEqual([]);
    const before = first.tokens.claims();
    const after = second.tokens.claims();
    expect(after?.sub).toBe(before?.sub);
    expect(after?.auth_time).toBe(before?.auth_time);
    expect(after?.sid).toBe(before?.sid);
    expect(after?.nonce).toBe(second.started.nonce);

    // prompt=none in the same browser answers at once as well.
    const silent = await startAuthorization(config, webRedirect, 'openid profile', [['prompt', 'none']]);
    const { location, pages } = await browser.walk(silent.url);
    expect(pages).toEqual([]);
    expect((await exchange(config, silent, location)).claims()?.sub).toBe(before?.sub);
  });

  it('prompt=none without a session returns login_required to the client', async () => {
    const config = await webApp();
    const started = await startAuthorization(config, webRedirect, 'openid', [['prompt', 'none']]);
    const { location, pages } = await new FetchBrowser(issuer).walk(started.url);
    expect(pages).toEqual([]);
    const failure = await exchange(config, started, location).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(client.AuthorizationResponseError);
    expect((failure as client.AuthorizationResponseError).error).toBe('login_required');
    expect((failure as client.AuthorizationResponseError).cause.get('state')).toBe(started.state);
    expect((failure as client.AuthorizationResponseError).cause.get('iss')).toBe(issuer);
  });

  it('a code is single use: a second redemption fails and revokes what the first one issued', async () => {
    const config = await webApp();
    const { started, location, tokens } = await codeFlow(
      config,
      webRedirect,
      'openid offline_access orders.read',
      bob,
    );
    expect(typeof tokens.refresh_token).toBe('string');
    await expectOAuthError(exchange(config, started, location), 'invalid_grant');
    await expectOAuthError(client.refreshTokenGrant(config, tokens.refresh_token as string), 'invalid_grant');
  });

  it('client_secret_post for the code flow; a client that needs no consent shows only the login page', async () => {
    const config = await discover('post-app', webSecret, client.ClientSecretPost(webSecret));
    const { pages, tokens } = await codeFlow(
      config,
      'https://post.example.com/cb',
      'openid orders.read',
      carol,
    );
    expect(pages).toEqual(['login']);
    expect(tokens.claims()).toMatchObject({ iss: issuer, aud: 'post-app', azp: 'post-app' });
    expect(tokens.refresh_token).toBeUndefined();
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), {
      issuer,
      audience: 'orders-api',
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({
      client_id: 'post-app',
      scope: 'openid orders.read',
      sub: tokens.claims()?.sub,
    });
  });

  it('key rotation: an RP holding a cached JWKS keeps validating id_tokens across a rotation', async () => {
    // A server of its own: the rotation must not change the signing key under the other tests.
    const own = await startListening({ users, clients });
    try {
      const config = await discover('web-app', webSecret, client.ClientSecretBasic(webSecret), own.issuer);
      const browser = new FetchBrowser(own.issuer);
      const flow = async () => {
        const started = await startAuthorization(config, webRedirect, 'openid');
        const { location } = await browser.walk(started.url, { user: alice });
        const tokens = await exchange(config, started, location);
        expect(tokens.claims()?.iss).toBe(own.issuer);
        return decodeProtectedHeader(tokens.id_token as string).kid;
      };
      const before = await flow(); // openid-client now caches a JWKS holding only the first key
      const next = await own.ctx.keys.rotate(own.ctx.now());
      expect(next.kid).not.toBe(before);
      // The new key is published at once but signs only after publishBeforeUse (600 s by default).
      expect(await flow()).toBe(before);
      const published = (await (await fetch(`${own.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
      expect(published.keys.map((key) => key.kid).sort()).toEqual([before, next.kid].sort());

      // 601 s later (both the server and openid-client read Date): the new key signs, and the RP, whose
      // cached JWKS is now older than its 300 s limit, fetches the set again and validates it.
      const later = Date.now() + 601_000;
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(later);
      expect(await flow()).toBe(next.kid);
    } finally {
      vi.useRealTimers();
      await own.close();
    }
  });
});
