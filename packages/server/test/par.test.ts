/**
 * Pushed authorization requests (RFC 9126): /par answers, /authorize with a request_uri, the negatives
 * (GET, request_uri in the body, reuse, expiry, another client, a foreign request_uri), per-client and
 * global requirements, and DPoP binding of the code through /par (RFC 9449 §10.1).
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { dpopKey, proof } from './dpop-helpers.ts';
import {
  authorizeThroughLogin,
  Browser,
  basic,
  form,
  issuer,
  pkcePair,
  postForm,
  postJson,
  redeemCode,
  startServer,
  type TestServer,
  testClients,
  useServer,
  webAppAuth,
  webRedirect,
  webSecret,
} from './helpers.ts';

const parUrl = `${issuer}/par`;

function clients(extra: Record<string, unknown>[] = []): Record<string, unknown>[] {
  return [
    ...testClients(),
    {
      clientId: 'par-only',
      name: 'PAR only',
      secret: webSecret,
      grantTypes: ['authorization_code'],
      redirectUris: ['https://par.example.com/cb'],
      scopes: ['openid', 'orders.read'],
      requireConsent: false,
      requirePushedAuthorizationRequests: true,
    },
    ...extra,
  ];
}

function push(
  server: TestServer,
  values: Record<string, string | undefined>,
  headers: Record<string, string | undefined> = { authorization: webAppAuth },
) {
  return postForm(server, '/par', values, headers);
}

function requestParams(challenge: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    response_type: 'code',
    redirect_uri: webRedirect,
    scope: 'openid profile orders.read',
    state: 'st-par',
    nonce: 'n-par',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

function authorizeWith(requestUri: string, clientId = 'web-app', extra: Record<string, string> = {}): string {
  return `/authorize?${form({ client_id: clientId, request_uri: requestUri, ...extra })}`;
}

function expectRequestUriRefused(response: {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
}) {
  expect(response.statusCode).toBe(400);
  expect(response.headers.location).toBeUndefined();
  expect(response.body).toContain(
    'request_uri is unknown, expired, already used or was pushed by another client',
  );
}

describe('pushed authorization requests', () => {
  const server = useServer({ clients: clients() });

  it('answers 201 with a request_uri and expires_in, and /authorize uses only the pushed parameters', async () => {
    const pkce = pkcePair();
    const pushed = await push(server, requestParams(pkce.challenge));
    expect(pushed.status).toBe(201);
    expect(pushed.headers['cache-control']).toBe('no-store');
    expect(pushed.body.expires_in).toBe(60);
    const requestUri = pushed.body.request_uri as string;
    expect(requestUri).toMatch(/^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/);

    // Parameters on the URL besides client_id and request_uri are ignored (state, scope).
    const redirect = await authorizeThroughLogin(
      new Browser(server),
      authorizeWith(requestUri, 'web-app', { state: 'from-the-url', scope: 'openid' }),
    );
    expect(`${redirect.origin}${redirect.pathname}`).toBe(webRedirect);
    expect(redirect.searchParams.get('state')).toBe('st-par');
    const tokens = await redeemCode(server, redirect.searchParams.get('code')!, pkce.verifier);
    expect(tokens.status).toBe(200);
    const body = tokens.body as Record<string, string>;
    expect(body.scope).toBe('openid profile orders.read');
    expect(decodeJwt(body.id_token!).nonce).toBe('n-par');
  });

  it('accepts a public client identified by client_id', async () => {
    const pushed = await push(
      server,
      {
        ...requestParams(pkcePair().challenge, { redirect_uri: 'http://127.0.0.1:4000/callback' }),
        client_id: 'native-app',
        scope: 'openid api1.read',
      },
      {},
    );
    expect(pushed.status).toBe(201);
  });

  it('answers GET with 405', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/par' });
    expect(response.statusCode).toBe(405);
    expect(JSON.parse(response.body).error).toBe('method_not_allowed');
  });

  it('refuses a request_uri inside the pushed body (invalid_request, JSON)', async () => {
    const response = await push(server, {
      ...requestParams(pkcePair().challenge),
      request_uri: 'urn:ietf:params:oauth:request_uri:abc',
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it.each([
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example.com/cb' }, 'invalid_request'],
    ['no code_challenge', { code_challenge: '' }, 'invalid_request'],
    ['an unknown scope', { scope: 'openid nope' }, 'invalid_scope'],
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
    ['a malformed dpop_jkt', { dpop_jkt: 'nope' }, 'invalid_request'],
  ])('validates the pushed parameters as /authorize does: %s', async (_name, change, error) => {
    const response = await push(server, { ...requestParams(pkcePair().challenge), ...change });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe(error);
    expect(response.headers.location).toBeUndefined();
  });

  it('needs client authentication', async () => {
    const wrong = await push(server, requestParams(pkcePair().challenge), {
      authorization: basic('web-app', `${webSecret}x`),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    const none = await push(server, requestParams(pkcePair().challenge), {});
    expect(none.status).toBe(401);
  });

  it('refuses a body that is not a form', async () => {
    const response = await postJson(server, '/par', webAppAuth);
    expect(response.statusCode).toBe(415);
    expect(JSON.parse(response.body).error).toBe('invalid_request');
  });

  it('uses a request_uri once: a second use is invalid_request_uri', async () => {
    const pushed = await push(server, requestParams(pkcePair().challenge));
    const url = authorizeWith(pushed.body.request_uri as string);
    const first = await new Browser(server).get(url);
    expect(first.statusCode).toBe(303);
    expectRequestUriRefused(await new Browser(server).get(url));
  });

  it('refuses an expired request_uri', async () => {
    const pushed = await push(server, requestParams(pkcePair().challenge));
    server.clock.advance(61);
    expectRequestUriRefused(await new Browser(server).get(authorizeWith(pushed.body.request_uri as string)));
  });

  it('refuses a request_uri of another client, which stays usable by its own', async () => {
    const pushed = await push(server, requestParams(pkcePair().challenge));
    const requestUri = pushed.body.request_uri as string;
    expectRequestUriRefused(await new Browser(server).get(authorizeWith(requestUri, 'native-app')));
    const own = await new Browser(server).get(authorizeWith(requestUri));
    expect(own.statusCode).toBe(303);
  });

  it('never fetches a request_uri that is not one of ours', async () => {
    expectRequestUriRefused(
      await new Browser(server).get(authorizeWith('urn:ietf:params:oauth:request_uri:short')),
    );
    // Not a /par request_uri: request objects by reference are not supported (OpenID Connect Core §6.2).
    for (const requestUri of ['https://attacker.example.com/request.jwt', 'urn:example:other']) {
      const response = await new Browser(server).get(authorizeWith(requestUri));
      expect(response.statusCode).toBe(400);
      expect(response.headers.location).toBeUndefined();
      expect(response.body).toContain(
        'request_uri is supported only for requests pushed to the PAR endpoint',
      );
    }
  });

  it('a client that requires PAR gets invalid_request for a request that was not pushed', async () => {
    const pkce = pkcePair();
    const direct = await new Browser(server).get(
      `/authorize?${form({
        ...requestParams(pkce.challenge, { redirect_uri: 'https://par.example.com/cb', scope: 'openid' }),
        client_id: 'par-only',
      })}`,
    );
    expect(direct.statusCode).toBe(303);
    const location = new URL(direct.headers.location as string);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/pushed/);

    const pushed = await push(
      server,
      requestParams(pkce.challenge, { redirect_uri: 'https://par.example.com/cb', scope: 'openid' }),
      { authorization: basic('par-only', webSecret) },
    );
    expect(pushed.status).toBe(201);
    const viaPar = await new Browser(server).get(
      authorizeWith(pushed.body.request_uri as string, 'par-only'),
    );
    expect(viaPar.statusCode).toBe(303);
    expect(viaPar.headers.location).toMatch(new RegExp(`^${issuer}/interaction/`));
  });

  it('advertises the endpoint, not required by default', async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/.well-known/oauth-authorization-server',
    });
    const metadata = JSON.parse(response.body);
    expect(metadata.pushed_authorization_request_endpoint).toBe(parUrl);
    expect(metadata.require_pushed_authorization_requests).toBe(false);
  });

  describe('DPoP at /par (RFC 9449 §10.1)', () => {
    it('binds the code to the key of the proof sent to /par', async () => {
      const key = await dpopKey();
      const pkce = pkcePair();
      const pushed = await push(server, requestParams(pkce.challenge), {
        authorization: webAppAuth,
        dpop: await proof(key, { htu: parUrl, iat: server.clock() }),
      });
      expect(pushed.status).toBe(201);
      const redirect = await authorizeThroughLogin(
        new Browser(server),
        authorizeWith(pushed.body.request_uri as string),
      );
      const redeem = (dpop?: string) =>
        redeemCode(
          server,
          redirect.searchParams.get('code')!,
          pkce.verifier,
          {},
          { authorization: webAppAuth, dpop },
        );
      const without = await redeem();
      expect(without.body.error).toBe('invalid_grant');
      const bound = await redeem(await proof(key, { htu: `${issuer}/token`, iat: server.clock() }));
      expect(bound.status).toBe(200);
      expect(decodeJwt(bound.body.access_token as string).cnf).toEqual({ jkt: key.jkt });
    });

    it('refuses a dpop_jkt that names another key than the proof', async () => {
      const key = await dpopKey();
      const other = await dpopKey();
      const response = await push(server, requestParams(pkcePair().challenge, { dpop_jkt: other.jkt }), {
        authorization: webAppAuth,
        dpop: await proof(key, { htu: parUrl, iat: server.clock() }),
      });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid_dpop_proof');
    });

    it('refuses an invalid proof at /par', async () => {
      const key = await dpopKey();
      const response = await push(server, requestParams(pkcePair().challenge), {
        authorization: webAppAuth,
        dpop: await proof(key, { htu: `${issuer}/token`, iat: server.clock() }),
      });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid_dpop_proof');
    });
  });
});

describe('PAR required for every client (par.required)', () => {
  const server = useServer({ par: { required: true, ttl: 30 } });

  it('refuses a request that was not pushed, accepts a pushed one, and says so in the metadata', async () => {
    const pkce = pkcePair();
    const direct = await new Browser(server).get(
      `/authorize?${form({ ...requestParams(pkce.challenge), client_id: 'web-app' })}`,
    );
    expect(new URL(direct.headers.location as string).searchParams.get('error')).toBe('invalid_request');
    const pushed = await push(server, requestParams(pkce.challenge));
    expect(pushed.body.expires_in).toBe(30);
    const viaPar = await new Browser(server).get(authorizeWith(pushed.body.request_uri as string));
    expect(viaPar.headers.location).toMatch(new RegExp(`^${issuer}/interaction/`));
    const metadata = JSON.parse(
      (await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).body,
    );
    expect(metadata.require_pushed_authorization_requests).toBe(true);
  });

  it('refuses a par.ttl above 60 seconds at start-up', async () => {
    await expect(startServer({ par: { ttl: 61 } })).rejects.toThrow(/par\.ttl/);
  });
});
