/**
 * Interoperability of DPoP (RFC 9449) and PAR (RFC 9126): openid-client v6, with its own DPoP support
 * (getDPoPHandle: proofs, `ath`, nonce retries) and PAR (buildAuthorizationUrlWithPAR), against the server on
 * a real loopback port, with and without server-provided nonces.
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { password, serviceSecret, webSecret } from './helpers.ts';
import {
  authorizationParameters,
  FetchBrowser,
  type ListeningServer,
  startListening,
} from './interop-helpers.ts';

const alice = { username: 'alice', password };
const webRedirect = 'https://webapp.example.com/signin-oidc';

function discover(
  server: ListeningServer,
  clientId: string,
  secret: string | undefined,
  auth: client.ClientAuth,
) {
  return client.discovery(new URL(server.issuer), clientId, secret, auth, {
    execute: [client.allowInsecureRequests],
  });
}

async function thumbprint(keyPair: client.CryptoKeyPair): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256');
}

/** A code flow pushed with PAR and bound with DPoP to a new ES256 key; returns the key, its handle and the tokens. */
async function pushedDpopCodeFlow(
  server: ListeningServer,
  config: client.Configuration,
  redirectUri: string,
  scope: string,
) {
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const dpop = client.getDPoPHandle(config, keyPair);
  const { verifier, state, nonce, parameters } = await authorizationParameters(redirectUri, scope);
  const url = await client.buildAuthorizationUrlWithPAR(config, parameters, { DPoP: dpop });
  expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  const { location } = await new FetchBrowser(server.issuer).walk(url, { user: alice });
  const tokens = await client.authorizationCodeGrant(
    config,
    new URL(location),
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP: dpop },
  );
  return { keyPair, dpop, tokens };
}

describe.each([
  { name: 'without server nonces', nonces: false },
  { name: 'with server nonces (use_dpop_nonce retries)', nonces: true },
])('openid-client with DPoP and PAR, $name', ({ nonces }) => {
  let server: ListeningServer;
  beforeAll(async () => {
    server = await startListening(nonces ? { dpop: { nonce: { required: true } } } : {});
  });
  afterAll(async () => {
    await server?.close();
  });

  it('discovers the DPoP algorithms and the PAR endpoint', async () => {
    const config = await discover(server, 'web-app', webSecret, client.ClientSecretBasic(webSecret));
    const metadata = config.serverMetadata();
    expect(metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'PS256', 'EdDSA', 'RS256']);
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${server.issuer}/par`);
  });

  it('client credentials with DPoP: a DPoP-bound access token', async () => {
    const config = await discover(
      server,
      'service-a',
      serviceSecret,
      client.ClientSecretBasic(serviceSecret),
    );
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const tokens = await client.clientCredentialsGrant(
      config,
      { scope: 'orders.read' },
      { DPoP: client.getDPoPHandle(config, keyPair) },
    );
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: await thumbprint(keyPair) });
  });

  it('confidential client: PAR + DPoP code flow, userinfo with DPoP, refresh with DPoP', async () => {
    const config = await discover(server, 'web-app', webSecret, client.ClientSecretBasic(webSecret));
    const { keyPair, dpop, tokens } = await pushedDpopCodeFlow(
      server,
      config,
      webRedirect,
      'openid profile offline_access orders.read',
    );
    expect(tokens.token_type).toBe('dpop');
    const jkt = await thumbprint(keyPair);
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });
    const sub = tokens.claims()?.sub as string;

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP: dpop });
    expect(userinfo).toEqual({ sub, name: 'Alice Smith', preferred_username: 'alice' });

    // Without the DPoP handle openid-client sends the token as Bearer: refused with a DPoP challenge.
    const refused = await client.fetchUserInfo(config, tokens.access_token, sub).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(refused).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect((refused as client.WWWAuthenticateChallengeError).cause[0]?.scheme).toBe('dpop');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string, undefined, {
      DPoP: dpop,
    });
    expect(refreshed.token_type).toBe('dpop');
    expect(decodeJwt(refreshed.access_token).cnf).toEqual({ jkt });
  });

  it('public client: PAR + DPoP, the refresh token is bound to the key', async () => {
    const config = await discover(server, 'native-app', undefined, client.None());
    const { dpop, tokens } = await pushedDpopCodeFlow(
      server,
      config,
      'http://127.0.0.1:49152/callback',
      'openid offline_access api1.read',
    );
    expect(tokens.token_type).toBe('dpop');

    const otherKey = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const stolen = await client
      .refreshTokenGrant(config, tokens.refresh_token as string, undefined, { DPoP: otherKey })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(stolen).toBeInstanceOf(client.ResponseBodyError);
    expect((stolen as client.ResponseBodyError).error).toBe('invalid_grant');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string, undefined, {
      DPoP: dpop,
    });
    expect(refreshed.token_type).toBe('dpop');
    expect(typeof refreshed.refresh_token).toBe('string');
  });
});
