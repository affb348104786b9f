import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { codeFlowTokens, serviceTokenRequest, useServer } from './helpers.ts';

const server = useServer();

describe('end-to-end over inject()', () => {
  it('issues tokens through login, consent and code exchange', async () => {
    const { tokens } = await codeFlowTokens(server);
    expect(tokens.status).toBe(200);
    expect(tokens.headers['cache-control']).toBe('no-store');
    expect(tokens.body.token_type).toBe('Bearer');
    expect(typeof tokens.body.refresh_token).toBe('string');
    const access = decodeJwt(tokens.body.access_token as string);
    expect(decodeProtectedHeader(tokens.body.access_token as string).typ).toBe('at+jwt');
    expect(access).toMatchObject({
      iss: 'http://localhost:3000',
      aud: 'orders-api',
      client_id: 'web-app',
      scope: 'openid profile offline_access orders.read',
    });
    const idToken = decodeJwt(tokens.body.id_token as string);
    expect(idToken).toMatchObject({ aud: 'web-app', nonce: 'nonce-456', amr: ['pwd'] });
    expect(idToken.sub).toBe(access.sub);
  });

  it('issues client credentials tokens', async () => {
    const response = await serviceTokenRequest(server);
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token as string)).toMatchObject({
      sub: 'service-a',
      aud: 'orders-api',
      scope: 'orders.read',
    });
  });
});
