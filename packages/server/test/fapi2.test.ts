import { decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { assertionType, clientAssertion } from './client-assertion.ts';
import { type DpopKey, dpopKey, proof } from './dpop-helpers.ts';
import {
  authorizeThroughLogin,
  Browser,
  form,
  issuer,
  pkcePair,
  postForm,
  serviceTokenRequest,
  type TestServer,
  testClients,
  testConfig,
  useServer,
} from './helpers.ts';

const redirectUri = 'https://bank-app.example.com/cb';
type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let es256: KeyPair;
let rs256: KeyPair;
let jwks: { keys: JWK[] };
let dpop: DpopKey;

beforeAll(async () => {
  [es256, rs256] = await Promise.all([
    generateKeyPair('ES256', { extractable: true }),
    generateKeyPair('RS256', { extractable: true }),
  ]);
  jwks = {
    keys: [
      { ...(await exportJWK(es256.publicKey)), kid: 'es', alg: 'ES256' },
      { ...(await exportJWK(rs256.publicKey)), kid: 'rs', alg: 'RS256' },
    ],
  };
  dpop = await dpopKey('ES256');
});

function fapiClient(clientId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clientId,
    name: `FAPI client ${clientId}`,
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks,
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirectUris: [redirectUri],
    scopes: ['openid', 'offline_access', 'orders.read'],
    requireConsent: false,
    ...extra,
  };
}

/** `values` with a private_key_jwt assertion of `clientId` (RFC 7523 §2.2), signed with ES256 unless given. */
async function withAssertion(
  server: TestServer,
  values: Record<string, string>,
  clientId: string,
  key = es256,
  kid = 'es',
  alg = 'ES256',
): Promise<Record<string, string>> {
  return {
    ...values,
    client_assertion_type: assertionType,
    client_assertion: await clientAssertion(clientId, key.privateKey, server.clock(), { kid, alg }),
  };
}

async function dpopHeader(server: TestServer, path: string, key = dpop) {
  return { dpop: await proof(key, { htu: `${issuer}${path}`, iat: server.clock() }) };
}

function authorizationParams(challenge: string): Record<string, string> {
  return {
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid offline_access orders.read',
    state: 'fapi-state',
    nonce: 'fapi-nonce',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
}

/** PAR, login, and the code exchange with a DPoP proof; returns the token response. */
async function fapiFlow(server: TestServer, clientId: string) {
  const pkce = pkcePair();
  const pushed = await postForm(
    server,
    '/par',
    await withAssertion(server, { ...authorizationParams(pkce.challenge), client_id: clientId }, clientId),
    await dpopHeader(server, '/par'),
  );
  expect(pushed.status).toBe(201);
  const redirect = await authorizeThroughLogin(
    new Browser(server),
    `/authorize?${form({ client_id: clientId, request_uri: pushed.body.request_uri as string })}`,
  );
  expect(redirect.searchParams.get('iss')).toBe(issuer);
  expect(redirect.searchParams.get('state')).toBe('fapi-state');
  const code = redirect.searchParams.get('code')!;
  return postForm(
    server,
    '/token',
    await withAssertion(
      server,
      { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: pkce.verifier },
      clientId,
    ),
    await dpopHeader(server, '/token'),
  );
}

describe('server-wide FAPI 2.0 profile', () => {
  const server = useServer(() => ({
    profile: 'fapi2',
    clients: [fapiClient('bank-app')],
    tokens: { rotateSenderConstrainedRefreshTokens: false },
  }));

  it('advertises only what the profile allows', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    const metadata = JSON.parse(response.body) as Record<string, unknown>;
    expect(metadata.require_pushed_authorization_requests).toBe(true);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['private_key_jwt']);
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual(['ES256', 'PS256']);
    expect(metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'PS256']);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('runs PAR, private_key_jwt and DPoP end to end and binds the access token', async () => {
    const tokens = await fapiFlow(server, 'bank-app');
    expect(tokens.status).toBe(200);
    expect(tokens.body.token_type).toBe('DPoP');
    expect(decodeJwt(tokens.body.access_token as string).cnf).toEqual({ jkt: dpop.jkt });
    expect(tokens.body.refresh_token).toEqual(expect.any(String));
  });

  it('refuses an authorization request that was not pushed, on the redirect URI', async () => {
    const pkce = pkcePair();
    const response = await server.app.inject({
      method: 'GET',
      url: `/authorize?${form({ ...authorizationParams(pkce.challenge), client_id: 'bank-app' })}`,
    });
    expect(response.statusCode).toBe(303);
    const location = new URL(response.headers.location as string);
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toContain('pushed');
    expect(location.searchParams.get('iss')).toBe(issuer);
  });

  it('refuses a bearer token request (no DPoP proof, no certificate)', async () => {
    const response = await postForm(
      server,
      '/token',
      await withAssertion(server, { grant_type: 'client_credentials', scope: 'orders.read' }, 'bank-app'),
    );
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
    expect(response.body.error_description).toContain('sender-constrained');
  });

  it('refuses DPoP proofs and client assertions signed with algorithms outside ES256 and PS256', async () => {
    const edKey = await dpopKey('EdDSA');
    const byEd = await postForm(
      server,
      '/token',
      await withAssertion(server, { grant_type: 'client_credentials', scope: 'orders.read' }, 'bank-app'),
      await dpopHeader(server, '/token', edKey),
    );
    expect(byEd.status).toBe(400);
    expect(byEd.body.error).toBe('invalid_dpop_proof');

    const byRsa = await postForm(
      server,
      '/token',
      await withAssertion(
        server,
        { grant_type: 'client_credentials', scope: 'orders.read' },
        'bank-app',
        rs256,
        'rs',
        'RS256',
      ),
      await dpopHeader(server, '/token'),
    );
    expect(byRsa.status).toBe(401);
    expect(byRsa.body.error).toBe('invalid_client');
  });

  it('keeps the refresh token of a sender-constrained confidential client when rotation is off', async () => {
    const tokens = await fapiFlow(server, 'bank-app');
    const refreshToken = tokens.body.refresh_token as string;
    for (let round = 0; round < 2; round++) {
      const refreshed = await postForm(
        server,
        '/token',
        await withAssertion(server, { grant_type: 'refresh_token', refresh_token: refreshToken }, 'bank-app'),
        await dpopHeader(server, '/token'),
      );
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.token_type).toBe('DPoP');
      expect(refreshed.body.refresh_token).toBeUndefined();
    }
  });
});

describe('per-client FAPI 2.0 profile on an OAuth 2.1 server', () => {
  const server = useServer(() => ({
    clients: [...testClients(), fapiClient('fapi-only', { profile: 'fapi2' })],
  }));

  it('applies the profile to that client only', async () => {
    const bearer = await postForm(
      server,
      '/token',
      await withAssertion(server, { grant_type: 'client_credentials', scope: 'orders.read' }, 'fapi-only'),
    );
    expect(bearer.status).toBe(400);
    expect(bearer.body.error).toBe('invalid_request');

    const bound = await postForm(
      server,
      '/token',
      await withAssertion(server, { grant_type: 'client_credentials', scope: 'orders.read' }, 'fapi-only'),
      await dpopHeader(server, '/token'),
    );
    expect(bound.status).toBe(200);
    expect(bound.body.token_type).toBe('DPoP');

    // A client outside the profile still gets bearer tokens with its secret.
    const other = await serviceTokenRequest(server, { scope: 'orders.read' });
    expect(other.status).toBe(200);
    expect(other.body.token_type).toBe('Bearer');
  });

  it('rotates refresh tokens by default, sender-constrained or not', async () => {
    const tokens = await fapiFlow(server, 'fapi-only');
    expect(tokens.status).toBe(200);
    const refreshed = await postForm(
      server,
      '/token',
      await withAssertion(
        server,
        { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string },
        'fapi-only',
      ),
      await dpopHeader(server, '/token'),
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
  });
});

describe('configuration the profile refuses', () => {
  const configError = (overrides: Record<string, unknown>) => {
    try {
      parseConfig(testConfig(overrides));
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('the configuration was accepted');
  };

  it('refuses clients with a secret or none under the server-wide profile', () => {
    const message = configError({ profile: 'fapi2' });
    expect(message).toContain('clients[0].tokenEndpointAuthMethod');
    expect(message).toContain('FAPI 2.0');
  });

  it('refuses signing keys other than ES256 and PS256 when a client uses the profile', () => {
    const message = configError({
      keys: { algorithm: 'RS256' },
      clients: [fapiClient('bank-app', { profile: 'fapi2' })],
    });
    expect(message).toContain('keys.algorithm');
    expect(() =>
      parseConfig(
        testConfig({ keys: { algorithm: 'PS256' }, clients: [fapiClient('bank-app', { profile: 'fapi2' })] }),
      ),
    ).not.toThrow();
  });

  it('refuses an assertion algorithm outside ES256 and PS256 for a profile client', () => {
    const message = configError({
      clients: [fapiClient('bank-app', { profile: 'fapi2', tokenEndpointAuthSigningAlg: 'RS256' })],
    });
    expect(message).toContain('tokenEndpointAuthSigningAlg');
  });
});
