/**
 * DPoP (RFC 9449) at the authorization server: binding at the token endpoint, every check of §4.3 with a
 * negative test of its own, server nonces (§8, §9), `dpop_jkt` (§10), bound refresh tokens of public
 * clients (§5), userinfo (§7) and introspection (§6.2).
 */
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type DpopKey,
  dpopKey,
  type ProofOptions,
  proof,
  symmetricProof,
  unsignedProof,
} from './dpop-helpers.ts';
import {
  apiSecret,
  authorizeThroughLogin,
  Browser,
  basic,
  codeFlowTokens,
  codeRequest,
  issuer,
  opaqueApiResources,
  pkcePair,
  postForm,
  serviceAuth,
  serviceSecret,
  type TestServer,
  tamperSignature,
  testClients,
  useServer,
  webAppAuth,
  webRedirect,
} from './helpers.ts';

const tokenUrl = `${issuer}/token`;
const userinfoUrl = `${issuer}/userinfo`;

function overrides(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiResources: opaqueApiResources(),
    clients: [
      ...testClients(),
      {
        clientId: 'dpop-only',
        name: 'DPoP only',
        secret: serviceSecret,
        grantTypes: ['client_credentials'],
        scopes: ['orders.read', 'api1.read'],
        requireConsent: false,
        requireDpop: true,
      },
    ],
    ...extra,
  };
}

const clientCredentials = { grant_type: 'client_credentials', scope: 'orders.read' };

async function userinfo(server: TestServer, headers: Record<string, string | undefined>) {
  const response = await server.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<
      string,
      string
    >,
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: JSON.parse(response.body) as Record<string, unknown>,
  };
}

describe('DPoP at the token endpoint', () => {
  const server = useServer(overrides());
  let key: DpopKey;
  const tokenProof = (options: ProofOptions = {}) =>
    proof(key, { htu: tokenUrl, iat: server.clock(), ...options });
  const withProof = (dpop: string | string[] | undefined, values = clientCredentials) =>
    postForm(server, tokenUrl, values, { authorization: serviceAuth, DPoP: dpop });
  const expectProofError = (
    response: Awaited<ReturnType<typeof withProof>>,
    description: RegExp,
    error = 'invalid_dpop_proof',
  ) => {
    expect(response.status).toBe(400);
    expect(response.body.error).toBe(error);
    expect(response.body.error_description).toMatch(description);
    expect(response.body.access_token).toBeUndefined();
    expect(response.headers['cache-control']).toBe('no-store');
  };

  beforeAll(async () => {
    key = await dpopKey();
  });

  it('binds the access token to the proof key: token_type DPoP and cnf.jkt', async () => {
    const response = await withProof(await tokenProof());
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('DPoP');
    expect(decodeJwt(response.body.access_token as string).cnf).toEqual({ jkt: key.jkt });
  });

  it('reads the header name case-insensitively', async () => {
    for (const name of ['dpop', 'DPOP', 'DPoP']) {
      const response = await postForm(server, tokenUrl, clientCredentials, {
        authorization: serviceAuth,
        [name]: await tokenProof(),
      });
      expect(response.status).toBe(200);
      expect(response.body.token_type).toBe('DPoP');
    }
  });

  it('issues a bearer token without a proof', async () => {
    const response = await withProof(undefined);
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('Bearer');
    expect(decodeJwt(response.body.access_token as string).cnf).toBeUndefined();
  });

  it.each(['ES256', 'PS256', 'EdDSA', 'RS256'])('accepts %s proofs', async (alg) => {
    const other = await dpopKey(alg);
    const response = await withProof(await proof(other, { htu: tokenUrl, iat: server.clock() }));
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token as string).cnf).toEqual({ jkt: other.jkt });
  });

  it('normalises htu per RFC 3986 (case, default port, percent-encoding, dot segments)', async () => {
    for (const htu of [
      'HTTP://LOCALHOST:3000/token',
      'http://localhost:3000/%74oken',
      'http://localhost:3000/x/../token',
    ]) {
      const response = await withProof(await tokenProof({ htu }));
      expect(response.status).toBe(200);
    }
  });

  describe('rejects, each check of RFC 9449 §4.3 on its own', () => {
    it('two DPoP headers', async () => {
      expectProofError(await withProof([await tokenProof(), await tokenProof()]), /exactly one/);
    });

    it('two proofs joined in one header', async () => {
      expectProofError(await withProof(`${await tokenProof()}, ${await tokenProof()}`), /compact JWS/);
    });

    it('a value that is not a JWS', async () => {
      expectProofError(await withProof('not-a-jwt'), /compact JWS/);
    });

    it('typ other than dpop+jwt', async () => {
      expectProofError(await withProof(await tokenProof({ header: { typ: 'JWT' } })), /typ/);
    });

    it('a missing typ', async () => {
      expectProofError(await withProof(await tokenProof({ header: { typ: undefined } })), /typ/);
    });

    it('alg none', async () => {
      const unsigned = unsignedProof(key, {
        jti: 'none-1',
        htm: 'POST',
        htu: tokenUrl,
        iat: server.clock(),
      });
      expectProofError(await withProof(unsigned), /alg/);
    });

    it('HS256 (a symmetric algorithm)', async () => {
      const mac = await symmetricProof(key, { jti: 'hs-1', htm: 'POST', htu: tokenUrl, iat: server.clock() });
      expectProofError(await withProof(mac), /alg/);
    });

    it('an algorithm outside the configured allow-list (ES384)', async () => {
      const es384 = await dpopKey('ES384');
      expectProofError(await withProof(await proof(es384, { htu: tokenUrl, iat: server.clock() })), /alg/);
    });

    it('a missing jwk', async () => {
      expectProofError(await withProof(await tokenProof({ header: { jwk: undefined } })), /jwk/);
    });

    it('a private key in the jwk header', async () => {
      expectProofError(
        await withProof(await tokenProof({ header: { jwk: key.privateJwk } })),
        /must be a public key/,
      );
    });

    it('a jwk that does not fit the alg', async () => {
      const rsa = await dpopKey('RS256');
      expectProofError(await withProof(await tokenProof({ header: { jwk: rsa.publicJwk } })), /does not fit/);
    });

    it('a bad signature', async () => {
      expectProofError(await withProof(tamperSignature(await tokenProof())), /signature/);
    });

    it('a signature by another key than the jwk', async () => {
      const other = await dpopKey();
      expectProofError(
        await withProof(
          await proof(other, { htu: tokenUrl, iat: server.clock(), header: { jwk: key.publicJwk } }),
        ),
        /signature/,
      );
    });

    it('htm that does not match the method', async () => {
      expectProofError(await withProof(await tokenProof({ htm: 'GET' })), /htm/);
    });

    it('htu of another endpoint', async () => {
      expectProofError(await withProof(await tokenProof({ htu: `${issuer}/userinfo` })), /htu/);
    });

    it('htu of another origin', async () => {
      expectProofError(await withProof(await tokenProof({ htu: 'http://localhost:3001/token' })), /htu/);
    });

    it('htu with a query', async () => {
      expectProofError(await withProof(await tokenProof({ htu: `${tokenUrl}?a=b` })), /query or fragment/);
    });

    it('htu with a fragment', async () => {
      expectProofError(await withProof(await tokenProof({ htu: `${tokenUrl}#x` })), /query or fragment/);
    });

    it('iat too far in the past', async () => {
      expectProofError(await withProof(await tokenProof({ iat: server.clock() - 61 })), /iat/);
    });

    it('iat in the future', async () => {
      expectProofError(await withProof(await tokenProof({ iat: server.clock() + 30 })), /iat/);
    });

    it('a missing iat', async () => {
      expectProofError(await withProof(await tokenProof({ claims: { iat: undefined } })), /iat/);
    });

    it('a missing jti', async () => {
      expectProofError(await withProof(await tokenProof({ claims: { jti: undefined } })), /jti/);
    });

    it('a replayed jti (the same proof twice)', async () => {
      const once = await tokenProof();
      expect((await withProof(once)).status).toBe(200);
      expectProofError(await withProof(once), /already used/);
    });

    it('a replayed jti in a new proof by the same key', async () => {
      expect((await withProof(await tokenProof({ jti: 'same-jti' }))).status).toBe(200);
      expectProofError(await withProof(await tokenProof({ jti: 'same-jti' })), /already used/);
    });
  });

  it('a client registered with requireDpop must send a proof', async () => {
    const dpopOnly = basic('dpop-only', serviceSecret);
    const without = await postForm(server, tokenUrl, clientCredentials, { authorization: dpopOnly });
    expectProofError(without, /must send a DPoP proof/);
    const withIt = await postForm(server, tokenUrl, clientCredentials, {
      authorization: dpopOnly,
      DPoP: await tokenProof(),
    });
    expect(withIt.status).toBe(200);
    expect(withIt.body.token_type).toBe('DPoP');
  });

  describe('codes bound with dpop_jkt and refresh tokens', () => {
    async function code(clientId: string, redirectUri: string, scope: string, jkt?: string) {
      const pkce = pkcePair();
      const redirect = await authorizeThroughLogin(
        new Browser(server),
        codeRequest(pkce, {
          clientId,
          redirectUri,
          scope,
          ...(jkt === undefined ? {} : { extra: { dpop_jkt: jkt } }),
        }),
      );
      return { code: redirect.searchParams.get('code')!, verifier: pkce.verifier };
    }
    const redeem = (
      issued: { code: string; verifier: string },
      clientId: string,
      redirectUri: string,
      dpop?: string,
    ) =>
      postForm(
        server,
        tokenUrl,
        {
          grant_type: 'authorization_code',
          code: issued.code,
          redirect_uri: redirectUri,
          code_verifier: issued.verifier,
          ...(clientId === 'native-app' ? { client_id: clientId } : {}),
        },
        { authorization: clientId === 'web-app' ? webAppAuth : undefined, DPoP: dpop },
      );

    it('a code bound with dpop_jkt is refused without a proof and with another key, then redeemed with its key', async () => {
      const issued = await code('web-app', webRedirect, 'openid orders.read', key.jkt);
      const without = await redeem(issued, 'web-app', webRedirect);
      expect(without.status).toBe(400);
      expect(without.body.error).toBe('invalid_grant');
      const other = await dpopKey();
      const wrongKey = await redeem(
        issued,
        'web-app',
        webRedirect,
        await proof(other, { htu: tokenUrl, iat: server.clock() }),
      );
      expect(wrongKey.body.error).toBe('invalid_grant');
      const right = await redeem(issued, 'web-app', webRedirect, await tokenProof());
      expect(right.status).toBe(200);
      expect(right.body.token_type).toBe('DPoP');
      expect(decodeJwt(right.body.access_token as string).cnf).toEqual({ jkt: key.jkt });
    });

    it('refuses a malformed dpop_jkt at /authorize', async () => {
      const pkce = pkcePair();
      const response = await new Browser(server).get(codeRequest(pkce, { extra: { dpop_jkt: 'short' } }));
      expect(response.statusCode).toBe(303);
      const location = new URL(response.headers.location as string);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toMatch(/dpop_jkt/);
    });

    it("binds a public client's refresh token to its key: another key or none fails", async () => {
      const redirectUri = 'http://127.0.0.1:4000/callback';
      const issued = await code('native-app', redirectUri, 'openid offline_access api1.read');
      const first = await redeem(issued, 'native-app', redirectUri, await tokenProof());
      expect(first.status).toBe(200);
      const refresh = (dpop?: string, token = first.body.refresh_token as string) =>
        postForm(
          server,
          tokenUrl,
          { grant_type: 'refresh_token', refresh_token: token, client_id: 'native-app' },
          { DPoP: dpop },
        );
      const other = await dpopKey();
      const wrongKey = await refresh(await proof(other, { htu: tokenUrl, iat: server.clock() }));
      expect(wrongKey.status).toBe(400);
      expect(wrongKey.body.error).toBe('invalid_grant');
      expect(wrongKey.body.error_description).toMatch(/bound to a DPoP key/);
      const without = await refresh();
      expect(without.body.error).toBe('invalid_grant');
      const rotated = await refresh(await tokenProof());
      expect(rotated.status).toBe(200);
      expect(rotated.body.token_type).toBe('DPoP');
      // The rotated token is bound too.
      const again = await refresh(undefined, rotated.body.refresh_token as string);
      expect(again.body.error).toBe('invalid_grant');
    });

    it("does not bind a confidential client's refresh token: it may refresh with a new key", async () => {
      const issued = await code('web-app', webRedirect, 'openid offline_access orders.read');
      const first = await redeem(issued, 'web-app', webRedirect, await tokenProof());
      expect(first.status).toBe(200);
      const other = await dpopKey();
      const refreshed = await postForm(
        server,
        tokenUrl,
        { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string },
        { authorization: webAppAuth, DPoP: await proof(other, { htu: tokenUrl, iat: server.clock() }) },
      );
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.access_token as string).cnf).toEqual({ jkt: other.jkt });
    });
  });

  describe('userinfo', () => {
    let accessToken: string;
    const userinfoProof = (options: ProofOptions = {}) =>
      proof(key, { htm: 'GET', htu: userinfoUrl, iat: server.clock(), accessToken, ...options });

    beforeAll(async () => {
      const { tokens } = await codeFlowTokens(
        server,
        { scope: 'openid profile' },
        { authorization: webAppAuth, DPoP: await tokenProof() },
      );
      accessToken = tokens.body.access_token as string;
    });

    it('answers a DPoP-bound token sent with the DPoP scheme and a proof', async () => {
      const response = await userinfo(server, {
        authorization: `DPoP ${accessToken}`,
        dpop: await userinfoProof(),
      });
      expect(response.status).toBe(200);
      expect(response.body.name).toBe('Alice Smith');
    });

    it('compares htu without the query of the request URL', async () => {
      const response = await server.app.inject({
        method: 'GET',
        url: '/userinfo?lang=en',
        headers: { authorization: `DPoP ${accessToken}`, dpop: await userinfoProof() },
      });
      expect(response.statusCode).toBe(200);
    });

    it('refuses the DPoP-bound token sent as Bearer, with a DPoP challenge', async () => {
      const response = await userinfo(server, { authorization: `Bearer ${accessToken}` });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_token');
      expect(response.headers['www-authenticate']).toMatch(
        /^DPoP algs="ES256 PS256 EdDSA RS256", error="invalid_token"/,
      );
    });

    it('refuses the DPoP scheme without a proof', async () => {
      const response = await userinfo(server, { authorization: `DPoP ${accessToken}` });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_dpop_proof');
      expect(response.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="invalid_dpop_proof"/);
    });

    it('refuses a proof without ath', async () => {
      const response = await userinfo(server, {
        authorization: `DPoP ${accessToken}`,
        dpop: await userinfoProof({ accessToken: undefined }),
      });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_dpop_proof');
      expect(response.body.error_description).toMatch(/ath/);
    });

    it('refuses a proof whose ath is the hash of another token', async () => {
      const response = await userinfo(server, {
        authorization: `DPoP ${accessToken}`,
        dpop: await userinfoProof({ accessToken: `${accessToken}x` }),
      });
      expect(response.status).toBe(401);
      expect(response.body.error_description).toMatch(/ath/);
    });

    it('refuses a proof for the token endpoint (htm and htu of another request)', async () => {
      const response = await userinfo(server, {
        authorization: `DPoP ${accessToken}`,
        dpop: await userinfoProof({ htm: 'POST', htu: tokenUrl }),
      });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_dpop_proof');
    });

    it('refuses a valid proof made with another key than the token is bound to', async () => {
      const other = await dpopKey();
      const response = await userinfo(server, {
        authorization: `DPoP ${accessToken}`,
        dpop: await proof(other, { htm: 'GET', htu: userinfoUrl, iat: server.clock(), accessToken }),
      });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_token');
      expect(response.headers['www-authenticate']).toMatch(/^DPoP /);
    });

    it('refuses a replayed userinfo proof', async () => {
      const once = await userinfoProof();
      expect((await userinfo(server, { authorization: `DPoP ${accessToken}`, dpop: once })).status).toBe(200);
      const replay = await userinfo(server, { authorization: `DPoP ${accessToken}`, dpop: once });
      expect(replay.status).toBe(401);
      expect(replay.body.error_description).toMatch(/already used/);
    });

    it('refuses a bearer token sent with the DPoP scheme', async () => {
      const { tokens } = await codeFlowTokens(
        server,
        { scope: 'openid profile' },
        { authorization: webAppAuth },
      );
      const bearerToken = tokens.body.access_token as string;
      const response = await userinfo(server, {
        authorization: `DPoP ${bearerToken}`,
        dpop: await userinfoProof({ accessToken: bearerToken }),
      });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_token');
      expect(response.body.error_description).toMatch(/not DPoP-bound/);
    });
  });

  describe('introspection', () => {
    const introspect = (token: string) =>
      postForm(server, `${issuer}/introspect`, { token }, { authorization: serviceAuth });

    it('describes a DPoP-bound JWT with token_type DPoP and cnf', async () => {
      const issued = await withProof(await tokenProof());
      const response = await introspect(issued.body.access_token as string);
      expect(response.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    });

    it('stores the binding of an opaque access token and returns its cnf', async () => {
      const issued = await withProof(await tokenProof(), {
        grant_type: 'client_credentials',
        scope: 'api1.read',
      });
      expect(issued.status).toBe(400);
      // service-a is not registered for api1.read: use the dpop-only client, which is.
      const opaque = await postForm(
        server,
        tokenUrl,
        { grant_type: 'client_credentials', scope: 'api1.read' },
        { authorization: basic('dpop-only', serviceSecret), DPoP: await tokenProof() },
      );
      expect(opaque.status).toBe(200);
      expect(opaque.body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(opaque.body.token_type).toBe('DPoP');
      const response = await postForm(
        server,
        `${issuer}/introspect`,
        { token: opaque.body.access_token as string },
        { authorization: basic('api1', `${apiSecret}-api1`) },
      );
      expect(response.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    });

    it('describes a bearer token without cnf', async () => {
      const issued = await withProof(undefined);
      const response = await introspect(issued.body.access_token as string);
      expect(response.body.token_type).toBe('Bearer');
      expect(response.body.cnf).toBeUndefined();
    });
  });

  it('advertises the accepted algorithms in the metadata', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(JSON.parse(response.body).dpop_signing_alg_values_supported).toEqual([
      'ES256',
      'PS256',
      'EdDSA',
      'RS256',
    ]);
  });
});

describe('DPoP required for every client (dpop.required)', () => {
  const server = useServer(overrides({ dpop: { required: true } }));

  it('refuses a token request without a proof and binds the one with a proof', async () => {
    const without = await postForm(server, tokenUrl, clientCredentials, { authorization: serviceAuth });
    expect(without.status).toBe(400);
    expect(without.body.error).toBe('invalid_dpop_proof');
    const key = await dpopKey();
    const withIt = await postForm(server, tokenUrl, clientCredentials, {
      authorization: serviceAuth,
      DPoP: await proof(key, { htu: tokenUrl, iat: server.clock() }),
    });
    expect(withIt.status).toBe(200);
    expect(withIt.body.token_type).toBe('DPoP');
  });
});

describe('DPoP server nonces', () => {
  const lifetime = 60;
  const server = useServer(
    overrides({ dpop: { nonce: { required: true, lifetime, secret: 'n'.repeat(32) } } }),
  );
  let key: DpopKey;

  beforeAll(async () => {
    key = await dpopKey();
  });

  const request = async (nonce?: string) =>
    postForm(server, tokenUrl, clientCredentials, {
      authorization: serviceAuth,
      DPoP: await proof(key, { htu: tokenUrl, iat: server.clock(), ...(nonce ? { nonce } : {}) }),
    });

  it('asks for a nonce (use_dpop_nonce with DPoP-Nonce), then accepts the proof that carries it', async () => {
    const first = await request();
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const second = await request(nonce);
    expect(second.status).toBe(200);
    expect(second.body.token_type).toBe('DPoP');
    expect(second.headers['dpop-nonce']).toBe(nonce);
  });

  it('refuses a nonce that is not ours', async () => {
    const response = await request('x'.repeat(43));
    expect(response.body.error).toBe('use_dpop_nonce');
    expect(response.body.error_description).toMatch(/not current/);
  });

  it('rotates: the previous nonce is still accepted for one lifetime, then it is stale', async () => {
    const nonce = (await request()).headers['dpop-nonce'] as string;
    server.clock.advance(lifetime);
    const rotated = await request(nonce);
    expect(rotated.status).toBe(200);
    expect(rotated.headers['dpop-nonce']).not.toBe(nonce);
    server.clock.advance(lifetime);
    const stale = await request(nonce);
    expect(stale.status).toBe(400);
    expect(stale.body.error).toBe('use_dpop_nonce');
    expect((await request(stale.headers['dpop-nonce'] as string)).status).toBe(200);
  });

  it('at userinfo: 401 with WWW-Authenticate DPoP error="use_dpop_nonce" and a DPoP-Nonce', async () => {
    const nonce = (await request()).headers['dpop-nonce'] as string;
    const { tokens } = await codeFlowTokens(
      server,
      { scope: 'openid' },
      { authorization: webAppAuth, DPoP: await proof(key, { htu: tokenUrl, iat: server.clock(), nonce }) },
    );
    const accessToken = tokens.body.access_token as string;
    const missing = await userinfo(server, {
      authorization: `DPoP ${accessToken}`,
      dpop: await proof(key, { htm: 'GET', htu: userinfoUrl, iat: server.clock(), accessToken }),
    });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toBe('use_dpop_nonce');
    expect(missing.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="use_dpop_nonce"/);
    const fresh = missing.headers['dpop-nonce'] as string;
    expect(fresh).toBe(nonce);
    const ok = await userinfo(server, {
      authorization: `DPoP ${accessToken}`,
      dpop: await proof(key, {
        htm: 'GET',
        htu: userinfoUrl,
        iat: server.clock(),
        accessToken,
        nonce: fresh,
      }),
    });
    expect(ok.status).toBe(200);
  });
});
