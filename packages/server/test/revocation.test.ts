import { describe, expect, it } from 'vitest';
import {
  basic,
  codeFlowTokens,
  ordersApiAuth,
  postForm,
  refreshRequest,
  serviceAuth,
  tokenRequest,
  useServer,
  webAppAuth,
} from './helpers.ts';

const server = useServer();

function post(url: string, values: Record<string, string | undefined>, authorization?: string) {
  return postForm(server, url, values, { authorization });
}

const active = async (token: string) =>
  JSON.parse((await post('/introspect', { token }, ordersApiAuth)).text).active as boolean;

describe('revocation', () => {
  it('revokes a refresh token, its family and the access tokens of its grant', async () => {
    const { tokens } = await codeFlowTokens(server);
    const response = await post(
      '/revoke',
      { token: tokens.body.refresh_token as string, token_type_hint: 'refresh_token' },
      webAppAuth,
    );
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    expect(response.headers['cache-control']).toBe('no-store');
    const refresh = await refreshRequest(server, tokens.body.refresh_token as string);
    expect(refresh.body.error).toBe('invalid_grant');
    expect(await active(tokens.body.access_token as string)).toBe(false);
    const userinfo = await server.app.inject({
      url: '/userinfo',
      headers: { authorization: `Bearer ${tokens.body.access_token as string}` },
    });
    expect(userinfo.statusCode).toBe(401);
  });

  it('revokes a JWT access token by jti, leaving the refresh token usable', async () => {
    const { tokens } = await codeFlowTokens(server);
    const accessToken = tokens.body.access_token as string;
    expect(await active(accessToken)).toBe(true);
    expect((await post('/revoke', { token: accessToken }, webAppAuth)).status).toBe(200);
    expect(await active(accessToken)).toBe(false);
    const refreshed = await refreshRequest(server, tokens.body.refresh_token as string);
    expect(refreshed.status).toBe(200);
    expect(await active(refreshed.body.access_token as string)).toBe(true);
  });

  it('does not revoke a token of another client, and answers 200', async () => {
    const { tokens } = await codeFlowTokens(server);
    const response = await post('/revoke', { token: tokens.body.refresh_token as string }, serviceAuth);
    expect(response.status).toBe(200);
    expect(await active(tokens.body.access_token as string)).toBe(true);
    expect((await refreshRequest(server, tokens.body.refresh_token as string)).status).toBe(200);
  });

  it('answers 200 for unknown and garbage tokens', async () => {
    for (const token of ['unknown', 'a.b.c', 'x'.repeat(10_000), '\u2028']) {
      expect((await post('/revoke', { token }, webAppAuth)).status).toBe(200);
    }
  });

  it('lets a public client revoke its own refresh token with client_id', async () => {
    const redirectUri = 'http://127.0.0.1:4000/callback';
    const { tokens } = await codeFlowTokens(
      server,
      { clientId: 'native-app', redirectUri, scope: 'openid offline_access api1.read' },
      {},
    );
    const refreshToken = tokens.body.refresh_token as string;
    expect((await post('/revoke', { token: refreshToken, client_id: 'native-app' })).status).toBe(200);
    const refresh = await tokenRequest(server, {
      grant_type: 'refresh_token',
      client_id: 'native-app',
      refresh_token: refreshToken,
    });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('requires the token parameter and client authentication', async () => {
    const missing = await post('/revoke', {}, webAppAuth);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text).error).toBe('invalid_request');
    const unauthenticated = await post('/revoke', { token: 'x' });
    expect(unauthenticated.status).toBe(401);
    expect(JSON.parse(unauthenticated.text).error).toBe('invalid_client');
    const wrongSecret = await post('/revoke', { token: 'x' }, basic('web-app', 'wrong'));
    expect(wrongSecret.status).toBe(401);
  });
});
