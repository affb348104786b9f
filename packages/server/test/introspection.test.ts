import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  apiSecret,
  basic,
  codeFlowTokens,
  form,
  introspectToken,
  opaqueApiResources,
  ordersApiAuth,
  postForm,
  postJson,
  refreshRequest,
  serviceAuth,
  serviceTokenRequest,
  startServer,
  tamperSignature,
  useServer,
  webAppAuth,
  webSecret,
} from './helpers.ts';

const server = useServer({ apiResources: opaqueApiResources() });

async function introspect(
  values: Record<string, string | undefined>,
  authorization?: string,
  accept?: string,
) {
  const response = await server.app.inject({
    method: 'POST',
    url: '/introspect',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
      ...(accept ? { accept } : {}),
    },
    payload: form(values),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: response.body,
    body: String(response.headers['content-type']).startsWith('application/json')
      ? (JSON.parse(response.body) as Record<string, unknown>)
      : {},
  };
}

async function clientCredentialsToken(): Promise<string> {
  const response = await serviceTokenRequest(server);
  return response.body.access_token as string;
}

describe('introspection callers', () => {
  it('answers 401 without authentication', async () => {
    const response = await introspect({ token: await clientCredentialsToken() });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_client');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('answers 401 for a wrong API secret', async () => {
    const response = await introspect(
      { token: await clientCredentialsToken() },
      basic('orders-api', `${apiSecret}x`),
    );
    expect(response.status).toBe(401);
  });

  it('refuses public clients', async () => {
    const response = await introspect({ token: 'x', client_id: 'native-app' });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_client');
  });

  it('requires the token parameter', async () => {
    const response = await introspect({}, ordersApiAuth);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });

  it('refuses a JSON body', async () => {
    const response = await postJson(server, '/introspect', ordersApiAuth);
    expect(response.statusCode).toBe(415);
    expect(JSON.parse(response.body).error).toBe('invalid_request');
  });

  it('answers GET with 405', async () => {
    expect((await server.app.inject({ method: 'GET', url: '/introspect' })).statusCode).toBe(405);
  });
});

describe('introspecting JWT access tokens', () => {
  it('describes an active token to its audience', async () => {
    const token = await clientCredentialsToken();
    const response = await introspect({ token }, ordersApiAuth);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const claims = decodeJwt(token);
    expect(response.body).toEqual({
      active: true,
      token_type: 'Bearer',
      iss: 'http://localhost:3000',
      sub: 'service-a',
      aud: 'orders-api',
      client_id: 'service-a',
      scope: 'orders.read',
      jti: claims.jti,
      iat: claims.iat,
      exp: claims.exp,
    });
  });

  it('describes a token to the client it was issued to', async () => {
    const { tokens } = await codeFlowTokens(server);
    const response = await introspect({ token: tokens.body.access_token as string }, webAppAuth);
    expect(response.body).toMatchObject({
      active: true,
      client_id: 'web-app',
      scope: 'openid profile offline_access orders.read',
    });
    expect(response.body.grant_id).toBeUndefined();
  });

  it('answers only {"active":false} for another audience, another client, garbage, tampered or expired tokens', async () => {
    const token = await clientCredentialsToken();
    const inactive = [
      await introspect({ token }, basic('api1', `${apiSecret}-api1`)),
      await introspect({ token }, webAppAuth),
      await introspect({ token: 'garbage' }, ordersApiAuth),
      await introspect({ token: tamperSignature(token) }, ordersApiAuth),
      await introspect({ token: `${token}.extra` }, ordersApiAuth),
      await introspect({ token: 'a.b.c' }, ordersApiAuth),
      await introspect({ token: 'x'.repeat(20_000) }, ordersApiAuth),
    ];
    server.clock.advance(601);
    inactive.push(await introspect({ token }, ordersApiAuth));
    server.clock.advance(-601);
    for (const response of inactive) {
      expect(response.status).toBe(200);
      expect(response.text).toBe('{"active":false}');
    }
  });

  it('refuses tokens after refresh-token reuse revoked their grant', async () => {
    const { tokens } = await codeFlowTokens(server);
    const refreshToken = tokens.body.refresh_token as string;
    const rotated = await refreshRequest(server, refreshToken);
    expect(
      (await introspect({ token: rotated.body.access_token as string }, ordersApiAuth)).body.active,
    ).toBe(true);
    await refreshRequest(server, refreshToken);
    expect((await introspect({ token: rotated.body.access_token as string }, ordersApiAuth)).text).toBe(
      '{"active":false}',
    );
    expect((await introspect({ token: tokens.body.access_token as string }, ordersApiAuth)).text).toBe(
      '{"active":false}',
    );
  });

  it('keeps introspecting tokens signed by a retired key until they expire', async () => {
    const [original] = server.ctx.keys.jwks().keys as { kid: string }[];
    await server.ctx.keys.rotate(server.clock());
    server.clock.advance(server.config.keys.publishBeforeUse - 100);
    const token = await clientCredentialsToken();
    server.clock.advance(100);
    const newer = await clientCredentialsToken();
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(original!.kid);
    expect(JSON.parse(Buffer.from(newer.split('.')[0]!, 'base64url').toString()).kid).not.toBe(original!.kid);
    expect(decodeJwt(newer).jti).not.toBe(decodeJwt(token).jti);
    expect((await introspect({ token }, ordersApiAuth)).body.active).toBe(true);
    expect((await introspect({ token: newer }, ordersApiAuth)).body.active).toBe(true);
  });

  it('returns a signed JWT response on request (RFC 9701)', async () => {
    const token = await clientCredentialsToken();
    const response = await introspect({ token }, ordersApiAuth, 'application/token-introspection+jwt');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/token-introspection\+jwt/);
    const jwks = JSON.parse((await server.app.inject({ url: '/jwks' })).body);
    const { payload, protectedHeader } = await jwtVerify(response.text, createLocalJWKSet(jwks), {
      issuer: 'http://localhost:3000',
      audience: 'orders-api',
    });
    expect(protectedHeader.typ).toBe('token-introspection+jwt');
    expect(payload.token_introspection).toMatchObject({ active: true, client_id: 'service-a' });
  });
});

describe('opaque access tokens and refresh tokens', () => {
  it('issues opaque tokens for an opaque API and introspects them', async () => {
    const { tokens } = await codeFlowTokens(server, { scope: 'openid offline_access api1.read' });
    const accessToken = tokens.body.access_token as string;
    expect(accessToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const api1 = basic('api1', `${apiSecret}-api1`);
    expect((await introspect({ token: accessToken }, api1)).body).toMatchObject({
      active: true,
      aud: 'api1',
      scope: 'openid offline_access api1.read',
      client_id: 'web-app',
    });
    expect((await introspect({ token: accessToken }, ordersApiAuth)).text).toBe('{"active":false}');
    // Userinfo accepts opaque tokens too.
    const userinfo = await server.app.inject({
      url: '/userinfo',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(userinfo.statusCode).toBe(200);
  });

  it('describes refresh tokens to their client only, and never to APIs', async () => {
    const { tokens } = await codeFlowTokens(server);
    const refreshToken = tokens.body.refresh_token as string;
    const response = await introspect({ token: refreshToken, token_type_hint: 'refresh_token' }, webAppAuth);
    expect(response.body).toMatchObject({ active: true, token_type: 'refresh_token', client_id: 'web-app' });
    expect((await introspect({ token: refreshToken }, ordersApiAuth)).text).toBe('{"active":false}');
    expect(
      (await introspect({ token: refreshToken, client_id: 'post-app', client_secret: webSecret })).text,
    ).toBe('{"active":false}');
    await refreshRequest(server, refreshToken);
    expect((await introspect({ token: refreshToken }, webAppAuth)).text).toBe('{"active":false}');
  });
});

describe('verified-token cache', () => {
  it('never lets one server accept another server’s token, and still honours expiry and revocation on a hit', async () => {
    const other = await startServer();
    try {
      const foreign = (await serviceTokenRequest(other)).body.access_token as string;
      const otherApi = ordersApiAuth;
      const first = await introspectToken(other, foreign, otherApi);
      expect(JSON.parse(first.text).active).toBe(true);
      expect((await introspect({ token: foreign }, ordersApiAuth)).text).toBe('{"active":false}');
    } finally {
      await other.close();
    }
    const token = await clientCredentialsToken();
    expect((await introspect({ token }, ordersApiAuth)).body.active).toBe(true);
    await postForm(server, '/revoke', { token }, { authorization: serviceAuth });
    expect((await introspect({ token }, ordersApiAuth)).text).toBe('{"active":false}');
    const later = await clientCredentialsToken();
    expect((await introspect({ token: later }, ordersApiAuth)).body.active).toBe(true);
    server.clock.advance(601);
    expect((await introspect({ token: later }, ordersApiAuth)).text).toBe('{"active":false}');
    server.clock.advance(-601);
  });
});
