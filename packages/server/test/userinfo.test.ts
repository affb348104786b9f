import { beforeAll, describe, expect, it } from 'vitest';
import { codeFlowTokens, serviceTokenRequest, tamperSignature, useServer } from './helpers.ts';

const server = useServer();
let accessToken: string;
beforeAll(async () => {
  const { tokens } = await codeFlowTokens(server, { scope: 'openid profile email roles orders.read' });
  accessToken = tokens.body.access_token as string;
});

async function userinfo(
  options: { method?: 'GET' | 'POST'; url?: string; authorization?: string; body?: string } = {},
) {
  const response = await server.app.inject({
    method: options.method ?? 'GET',
    url: options.url ?? '/userinfo',
    headers: {
      ...(options.authorization ? { authorization: options.authorization } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(options.body !== undefined ? { payload: options.body } : {}),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: JSON.parse(response.body) as Record<string, unknown>,
  };
}

describe('userinfo', () => {
  it('returns claims by scope over GET and POST', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const response = await userinfo({ method, authorization: `Bearer ${accessToken}` });
      expect(response.status).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.body).toMatchObject({
        name: 'Alice Smith',
        preferred_username: 'alice',
        email: 'alice@example.com',
        email_verified: true,
        roles: ['OrderAdmin'],
      });
      expect(typeof response.body.sub).toBe('string');
    }
  });

  it('releases only the claims of the granted scopes', async () => {
    const { tokens } = await codeFlowTokens(server, { scope: 'openid orders.read' });
    const response = await userinfo({ authorization: `Bearer ${tokens.body.access_token as string}` });
    expect(Object.keys(response.body)).toEqual(['sub']);
  });

  it('answers a request without a token with bare Bearer and DPoP challenges', async () => {
    const response = await userinfo();
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toEqual([
      'Bearer realm="gatehouse"',
      'DPoP algs="ES256 PS256 EdDSA RS256"',
    ]);
  });

  it('refuses a token in the query string', async () => {
    const response = await userinfo({ url: `/userinfo?access_token=${accessToken}` });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
    expect(response.headers['www-authenticate']).toMatch(
      /^Bearer realm="gatehouse", error="invalid_request"/,
    );
  });

  it('refuses a token in the form body', async () => {
    const response = await userinfo({ method: 'POST', body: `access_token=${accessToken}` });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });

  for (const [label, header] of [
    ['garbage', 'Bearer not-a-jwt'],
    ['a tampered signature', () => `Bearer ${tamperSignature(accessToken)}`],
    [
      'an alg none token',
      () =>
        `Bearer ${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${accessToken.split('.')[1]}.`,
    ],
    ['a huge header', `Bearer ${'a'.repeat(10_000)}`],
  ] as const) {
    it(`refuses ${label} with 401 invalid_token and a Bearer challenge`, async () => {
      const value = typeof header === 'function' ? header() : header;
      const response = await userinfo({ authorization: value });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_token');
      expect(response.headers['www-authenticate']).toMatch(
        /^Bearer realm="gatehouse", error="invalid_token"/,
      );
    });
  }

  // RFC 6750 §3.1: a malformed request is invalid_request with 400, not an authentication failure.
  it('answers a malformed Authorization header with 400 invalid_request', async () => {
    for (const [header, scheme] of [
      ['Bearer', 'Bearer'],
      ['Bearer ', 'Bearer'],
      ['Bearer a b', 'Bearer'],
      [`Bearer ${accessToken} ${accessToken}`, 'Bearer'],
      ['Bearer ä', 'Bearer'],
      ['Bearer abc=def', 'Bearer'],
      ['bearer,abc', 'Bearer'],
      ['Bearer:abc', 'Bearer'],
      ['"Bearer" abc', 'Bearer'],
      ['DPoP', 'DPoP'],
      ['DPoP a b', 'DPoP'],
    ]) {
      const response = await userinfo({ authorization: header });
      expect(response.status, header).toBe(400);
      expect(response.body.error, header).toBe('invalid_request');
      expect(response.headers['www-authenticate'], header).toMatch(
        new RegExp(`^${scheme} .*error="invalid_request"`),
      );
    }
  });

  it('treats another authentication scheme as no credentials: 401 without an error code', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Digest username="alice"', 'Negotiate']) {
      const response = await userinfo({ authorization: header });
      expect(response.status, header).toBe(401);
      expect(response.headers['www-authenticate'], header).toEqual([
        'Bearer realm="gatehouse"',
        'DPoP algs="ES256 PS256 EdDSA RS256"',
      ]);
    }
  });

  it('refuses an expired token', async () => {
    server.clock.advance(601 + 5);
    const response = await userinfo({ authorization: `Bearer ${accessToken}` });
    server.clock.advance(-606);
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_token');
  });

  it('refuses a client credentials token (no openid scope) with insufficient_scope', async () => {
    const cc = await serviceTokenRequest(server);
    const response = await userinfo({ authorization: `Bearer ${cc.body.access_token as string}` });
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('insufficient_scope');
    expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"');
  });
});
