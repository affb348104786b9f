import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { databaseOf } from '../src/storage/testing.ts';
import {
  authorizationCode,
  basic,
  codeFlowTokens,
  form,
  formType,
  pkcePair,
  postJson,
  postRaw,
  refreshRequest,
  serviceAuth,
  serviceSecret,
  tokenRequest,
  useServer,
  webAppAuth,
  webRedirect,
  webSecret,
} from './helpers.ts';

const server = useServer();

const serviceForm = { 'content-type': formType, authorization: serviceAuth };
/** POSTs `payload` as it is to /token, as a form authenticated as service-a. */
const postServiceForm = (payload: string) => postRaw(server, '/token', serviceForm, payload);

function expectError(response: Awaited<ReturnType<typeof tokenRequest>>, status: number, error: string) {
  expect(response.status).toBe(status);
  expect(response.body.error).toBe(error);
  expect(typeof response.body.error_description).toBe('string');
  expect(response.body.access_token).toBeUndefined();
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.headers['content-type']).toMatch(/^application\/json/);
}

/** A refresh_token request of web-app, narrowed to `scope` when given. */
function refresh(refreshToken: string, scope?: string) {
  return refreshRequest(server, refreshToken, { scope });
}

/** A token request that must be refused with `status` and `error` (checked by expectError). */
async function refused(
  values: Record<string, string | undefined>,
  authorization: string | undefined,
  status: number,
  error: string,
) {
  expectError(await tokenRequest(server, values, authorization), status, error);
}

describe('client authentication', () => {
  it('accepts client_secret_basic with RFC 6749 form-encoded credentials', async () => {
    const response = await tokenRequest(server, { grant_type: 'client_credentials' }, serviceAuth);
    expect(response.status).toBe(200);
  });

  it('rejects a wrong secret with 401 and a Basic challenge', async () => {
    const response = await tokenRequest(
      server,
      { grant_type: 'client_credentials' },
      basic('service-a', `${serviceSecret}x`),
    );
    expectError(response, 401, 'invalid_client');
    expect(response.headers['www-authenticate']).toMatch(/^Basic realm="gatehouse"/);
  });

  it('rejects an unknown client', async () => {
    await refused(
      { grant_type: 'client_credentials' },
      basic('nobody', serviceSecret),
      401,
      'invalid_client',
    );
  });

  it('rejects two authentication methods in one request', async () => {
    const response = await tokenRequest(
      server,
      { grant_type: 'client_credentials', client_id: 'service-a', client_secret: serviceSecret },
      serviceAuth,
    );
    expectError(response, 401, 'invalid_client');
  });

  it('rejects client_secret_post for a client registered for client_secret_basic', async () => {
    const response = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: 'service-a',
      client_secret: serviceSecret,
    });
    expectError(response, 401, 'invalid_client');
  });

  it('accepts client_secret_post for a client registered for it', async () => {
    const response = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: 'post-app',
      client_secret: webSecret,
    });
    expect(response.status).toBe(200);
  });

  it('rejects a confidential client that sends no secret', async () => {
    await refused(
      { grant_type: 'client_credentials', client_id: 'service-a' },
      undefined,
      401,
      'invalid_client',
    );
  });

  it('rejects a request with no client at all', async () => {
    await refused({ grant_type: 'client_credentials' }, undefined, 401, 'invalid_client');
  });

  it('rejects a public client that sends a secret', async () => {
    const response = await tokenRequest(
      server,
      { grant_type: 'authorization_code', code: 'x' },
      basic('native-app', 'anything'),
    );
    expectError(response, 401, 'invalid_client');
  });

  for (const header of [
    'Basic',
    'Basic !!!',
    `Basic ${Buffer.from('no-colon').toString('base64')}`,
    'Bearer abc',
    `Basic ${Buffer.from('%zz:secret').toString('base64')}`,
  ]) {
    it(`rejects a malformed Authorization header: ${header.slice(0, 20)}`, async () => {
      await refused({ grant_type: 'client_credentials' }, header, 401, 'invalid_client');
    });
  }

  it('rejects a Basic client_id that differs from the body client_id', async () => {
    await refused(
      { grant_type: 'client_credentials', client_id: 'web-app' },
      serviceAuth,
      401,
      'invalid_client',
    );
  });
});

describe('request format', () => {
  it('rejects a JSON body', async () => {
    const response = await postJson(
      server,
      '/token',
      serviceAuth,
      JSON.stringify({ grant_type: 'client_credentials' }),
    );
    expect(response.statusCode).toBe(415);
    expect(JSON.parse(response.body).error).toBe('invalid_request');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('rejects a body with no content type', async () => {
    const response = await postRaw(
      server,
      '/token',
      { authorization: serviceAuth },
      'grant_type=client_credentials',
    );
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(JSON.parse(response.body).error).toBe('invalid_request');
  });

  it('rejects an oversized body without a stack trace', async () => {
    const response = await postServiceForm(`grant_type=client_credentials&pad=${'a'.repeat(70_000)}`);
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(response.body)).toEqual({
      error: 'invalid_request',
      error_description: 'request body is too large',
    });
  });

  it('answers GET /token with 405', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/token' });
    expect(response.statusCode).toBe(405);
    expect(JSON.parse(response.body).error).toBe('method_not_allowed');
  });

  it('rejects a duplicated parameter', async () => {
    const response = await postServiceForm('grant_type=client_credentials&grant_type=client_credentials');
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toBe('invalid_request');
  });

  it('survives malformed percent-encoding in the body', async () => {
    const response = await postServiceForm('grant_type=client_credentials&scope=%E0%A4%A');
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toBe('invalid_scope');
  });
});

describe('grant types', () => {
  it('requires grant_type', async () => {
    await refused({}, serviceAuth, 400, 'invalid_request');
  });

  for (const grantType of ['password', 'implicit', 'token', 'urn:example:unknown']) {
    it(`answers ${grantType} with unsupported_grant_type`, async () => {
      await refused(
        { grant_type: grantType, username: 'alice', password: 'x' },
        serviceAuth,
        400,
        'unsupported_grant_type',
      );
    });
  }

  it('answers a grant the client is not registered for with unauthorized_client', async () => {
    await refused(
      { grant_type: 'refresh_token', refresh_token: 'x' },
      serviceAuth,
      400,
      'unauthorized_client',
    );
  });
});

describe('client_credentials', () => {
  it('issues an RFC 9068 access token with the client as subject and no refresh token', async () => {
    const response = await tokenRequest(
      server,
      { grant_type: 'client_credentials', scope: 'orders.read' },
      serviceAuth,
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'orders.read' });
    expect(response.body.refresh_token).toBeUndefined();
    const claims = decodeJwt(response.body.access_token as string);
    expect(claims).toMatchObject({
      sub: 'service-a',
      client_id: 'service-a',
      aud: 'orders-api',
      iss: 'http://localhost:3000',
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    expect(typeof claims.jti).toBe('string');
  });

  it('refuses a scope the client is not allowed', async () => {
    await refused(
      { grant_type: 'client_credentials', scope: 'orders.write' },
      serviceAuth,
      400,
      'invalid_scope',
    );
  });

  it('refuses an unknown scope', async () => {
    await refused({ grant_type: 'client_credentials', scope: 'nope' }, serviceAuth, 400, 'invalid_scope');
  });

  it('refuses identity scopes, which need a user', async () => {
    await refused({ grant_type: 'client_credentials', scope: 'openid' }, serviceAuth, 400, 'invalid_scope');
  });

  it('refuses an unknown resource indicator with invalid_target', async () => {
    const response = await tokenRequest(
      server,
      { grant_type: 'client_credentials', resource: 'https://evil.example.com' },
      serviceAuth,
    );
    expectError(response, 400, 'invalid_target');
  });

  it('accepts a known resource indicator', async () => {
    const response = await tokenRequest(
      server,
      { grant_type: 'client_credentials', resource: 'https://api.example.com/orders' },
      serviceAuth,
    );
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token as string).aud).toBe('orders-api');
  });
});

describe('authorization_code', () => {
  it('redeems a code once and refuses the second redemption, revoking the refresh token issued from it', async () => {
    const { code, pkce } = await authorizationCode(server);
    const request = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: webRedirect,
      code_verifier: pkce.verifier,
    };
    const first = await tokenRequest(server, request, webAppAuth);
    expect(first.status).toBe(200);
    const second = await tokenRequest(server, request, webAppAuth);
    expectError(second, 400, 'invalid_grant');
    const refresh = await refreshRequest(server, first.body.refresh_token as string);
    expectError(refresh, 400, 'invalid_grant');
  });

  it('refuses a wrong verifier and leaves the code unused (the refused redemption is rolled back)', async () => {
    const { code, pkce } = await authorizationCode(server);
    const request = { grant_type: 'authorization_code', code, redirect_uri: webRedirect };
    const response = await tokenRequest(
      server,
      { ...request, code_verifier: pkcePair().verifier },
      webAppAuth,
    );
    expectError(response, 400, 'invalid_grant');
    expect(response.body.error_description).toMatch(/code_verifier/);
    const redeemed = await tokenRequest(server, { ...request, code_verifier: pkce.verifier }, webAppAuth);
    expect(redeemed.status).toBe(200);
  });

  it('refuses a missing verifier', async () => {
    const { code } = await authorizationCode(server);
    await refused(
      { grant_type: 'authorization_code', code, redirect_uri: webRedirect },
      webAppAuth,
      400,
      'invalid_request',
    );
  });

  for (const [label, verifier] of [
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(129)],
    ['bad alphabet', `${'a'.repeat(42)}+`],
  ] as const) {
    it(`refuses a verifier that is ${label}`, async () => {
      const { code } = await authorizationCode(server);
      const response = await tokenRequest(
        server,
        { grant_type: 'authorization_code', code, redirect_uri: webRedirect, code_verifier: verifier },
        webAppAuth,
      );
      expectError(response, 400, 'invalid_request');
    });
  }

  it('refuses a redirect_uri that differs from the authorization request', async () => {
    const { code, pkce } = await authorizationCode(server);
    const response = await tokenRequest(
      server,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: 'http://localhost:5000/signin-oidc',
        code_verifier: pkce.verifier,
      },
      webAppAuth,
    );
    expectError(response, 400, 'invalid_grant');
  });

  it('refuses a missing redirect_uri', async () => {
    const { code, pkce } = await authorizationCode(server);
    await refused(
      { grant_type: 'authorization_code', code, code_verifier: pkce.verifier },
      webAppAuth,
      400,
      'invalid_request',
    );
  });

  it('refuses a code issued to another client without burning it', async () => {
    const { code, pkce } = await authorizationCode(server);
    const request = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: webRedirect,
      code_verifier: pkce.verifier,
    };
    await refused(
      { ...request, client_id: 'post-app', client_secret: webSecret },
      undefined,
      400,
      'invalid_grant',
    );
    expect((await tokenRequest(server, request, webAppAuth)).status).toBe(200);
  });

  it('refuses an expired code (lifetime 60 s)', async () => {
    const { code, pkce } = await authorizationCode(server);
    server.clock.advance(61);
    const response = await tokenRequest(
      server,
      { grant_type: 'authorization_code', code, redirect_uri: webRedirect, code_verifier: pkce.verifier },
      webAppAuth,
    );
    expectError(response, 400, 'invalid_grant');
  });

  it('refuses an unknown or garbage code', async () => {
    for (const code of ['unknown', 'x'.repeat(5000), '\u2028\u2029']) {
      const response = await tokenRequest(
        server,
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: webRedirect,
          code_verifier: pkcePair().verifier,
        },
        webAppAuth,
      );
      expectError(response, 400, 'invalid_grant');
    }
    // A NUL character is refused as a malformed request before any lookup (nul-bytes.test.ts).
    const nul = await tokenRequest(
      server,
      {
        grant_type: 'authorization_code',
        code: '\u0000\u2028',
        redirect_uri: webRedirect,
        code_verifier: pkcePair().verifier,
      },
      webAppAuth,
    );
    expectError(nul, 400, 'invalid_request');
  });

  it('issues tokens with a resource subset and refuses a resource outside the grant', async () => {
    const { code, pkce } = await authorizationCode(server, {
      extra: { resource: 'https://api.example.com/orders' },
    });
    const base = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: webRedirect,
      code_verifier: pkce.verifier,
    };
    await refused({ ...base, resource: 'https://api1.example.com' }, webAppAuth, 400, 'invalid_target');
    const ok = await tokenRequest(
      server,
      { ...base, resource: 'https://api.example.com/orders' },
      webAppAuth,
    );
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token as string).aud).toBe('orders-api');
  });

  it('stores only hashes of codes and refresh tokens', async () => {
    const { code, tokens } = await codeFlowTokens(server);
    const dump = JSON.stringify([
      await databaseOf(server.ctx.storage).selectFrom('authorization_codes').selectAll().execute(),
      await databaseOf(server.ctx.storage).selectFrom('refresh_tokens').selectAll().execute(),
    ]);
    expect(dump).not.toContain(code);
    expect(dump).not.toContain(tokens.body.refresh_token as string);
  });
});

describe('refresh_token', () => {
  it('rotates on every use; the old token then fails and revokes the whole family', async () => {
    const { tokens } = await codeFlowTokens(server);
    const first = tokens.body.refresh_token as string;
    const rotated = await refreshRequest(server, first);
    expect(rotated.status).toBe(200);
    const second = rotated.body.refresh_token as string;
    expect(second).toBeTypeOf('string');
    expect(second).not.toBe(first);
    expect(rotated.body.id_token).toBeTypeOf('string');

    const third = await refreshRequest(server, second);
    expect(third.status).toBe(200);

    await refused({ grant_type: 'refresh_token', refresh_token: first }, webAppAuth, 400, 'invalid_grant');
    // Reuse detected: the newest token of the family is dead too.
    const newest = third.body.refresh_token as string;
    await refused({ grant_type: 'refresh_token', refresh_token: newest }, webAppAuth, 400, 'invalid_grant');
  });

  it('narrows the scope and can return to the originally granted scope, never wider', async () => {
    const { tokens } = await codeFlowTokens(server, {
      scope: 'openid profile offline_access orders.read orders.write',
    });
    const narrowed = await refresh(tokens.body.refresh_token as string, 'orders.read');
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('orders.read');
    expect(narrowed.body.id_token).toBeUndefined();
    const widened = await refresh(narrowed.body.refresh_token as string, 'orders.read api1.read');
    expectError(widened, 400, 'invalid_scope');
    const back = await refresh(narrowed.body.refresh_token as string, 'orders.read orders.write');
    expect(back.status).toBe(200);
    expect(back.body.scope).toBe('orders.read orders.write');
  });

  it('refuses a refresh token of another client without consuming it', async () => {
    const { tokens } = await codeFlowTokens(server);
    const refreshToken = tokens.body.refresh_token as string;
    const other = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'native-app',
    });
    expectError(other, 400, 'invalid_grant');
    expect((await refreshRequest(server, refreshToken)).status).toBe(200);
  });

  it('refuses an expired refresh token', async () => {
    const { tokens } = await codeFlowTokens(server);
    server.clock.advance(server.config.tokens.refreshTokenTtl + 1);
    const response = await refreshRequest(server, tokens.body.refresh_token as string);
    expectError(response, 400, 'invalid_grant');
  });

  it('requires the refresh_token parameter', async () => {
    await refused({ grant_type: 'refresh_token' }, webAppAuth, 400, 'invalid_request');
  });

  it('issues no refresh token without offline_access', async () => {
    const { tokens } = await codeFlowTokens(server, { scope: 'openid orders.read' });
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeUndefined();
  });

  it('gives exactly one winner when the same refresh token is used concurrently', async () => {
    const { tokens } = await codeFlowTokens(server);
    const refreshToken = tokens.body.refresh_token as string;
    const results = await Promise.all(Array.from({ length: 10 }, () => refreshRequest(server, refreshToken)));
    expect(results.filter((result) => result.status === 200)).toHaveLength(1);
    expect(results.filter((result) => result.body.error === 'invalid_grant')).toHaveLength(9);
  });
});

describe('public client', () => {
  it('runs the code flow with client_id only and PKCE, from a loopback redirect on any port', async () => {
    const redirectUri = 'http://127.0.0.1:53124/callback';
    const { redirect, tokens: response } = await codeFlowTokens(
      server,
      { clientId: 'native-app', redirectUri, scope: 'openid offline_access api1.read' },
      {},
    );
    expect(redirect.origin).toBe('http://127.0.0.1:53124');
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token as string).aud).toBe('api1');
    const refreshed = await tokenRequest(server, {
      grant_type: 'refresh_token',
      client_id: 'native-app',
      refresh_token: response.body.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
  });
});

describe('form helper sanity', () => {
  it('encodes like a browser form', () => {
    expect(form({ a: 'b c', d: undefined })).toBe('a=b+c');
  });
});
