/**
 * Token exchange (RFC 8693) at /token: a user's access token or ID token exchanged for a token to another
 * API, delegation with `act` (nested for a chain of actors, §4.1), the per-client audience policy, scopes
 * that never widen, lifetimes capped by the subject token, revocation that reaches exchanged tokens through
 * the grant id, and every kind of bad subject token refused (§2.2.2).
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import {
  accessTokenType,
  basic,
  codeFlowTokens,
  exchangeGrant,
  form,
  idTokenType,
  ordersApiAuth,
  serviceAuth,
  serviceSecret,
  testConfig,
  tokenRequest,
  useServer,
  webAppAuth,
} from './helpers.ts';

const gatewaySecret = 'gateway-test-secret-0123456789-abcdefghijklmnop';
const gateway = basic('gateway', gatewaySecret);

const base = testConfig();
const server = useServer({
  apiScopes: [...(base.apiScopes as object[]), { name: 'ledger.read', description: 'Read the ledger' }],
  apiResources: [
    ...(base.apiResources as object[]),
    {
      id: 'ledger',
      uris: ['https://ledger.example.com'],
      scopes: ['ledger.read'],
      accessTokenFormat: 'opaque',
    },
  ],
  clients: [
    ...(base.clients as Record<string, unknown>[]).map((client) =>
      client.clientId === 'web-app'
        ? {
            ...client,
            grantTypes: ['authorization_code', 'refresh_token', exchangeGrant],
            scopes: [...(client.scopes as string[]), 'ledger.read'],
            tokenExchange: { audiences: ['api1'] },
          }
        : client,
    ),
    {
      clientId: 'gateway',
      name: 'API gateway',
      secret: gatewaySecret,
      grantTypes: ['client_credentials', exchangeGrant],
      scopes: ['orders.read', 'api1.read', 'ledger.read'],
      tokenExchange: { audiences: ['api1', 'ledger'] },
    },
  ],
});

const fullScope = 'openid profile offline_access orders.read api1.read';

async function userTokens(scope = fullScope) {
  const { tokens } = await codeFlowTokens(server, { scope });
  expect(tokens.status).toBe(200);
  return tokens.body as { access_token: string; id_token: string; refresh_token: string };
}

function exchange(values: Record<string, string | undefined>, authorization = gateway) {
  return tokenRequest(server, { grant_type: exchangeGrant, ...values }, authorization);
}

/** Introspection as `authorization` (an API sees tokens for it, a client sees tokens issued to it). */
async function introspect(token: string, authorization = ordersApiAuth) {
  const response = await server.app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    payload: form({ token }),
  });
  return JSON.parse(response.body) as Record<string, unknown>;
}

async function clientToken(clientId: string, secret: string) {
  const response = await tokenRequest(server, { grant_type: 'client_credentials' }, basic(clientId, secret));
  return response.body.access_token as string;
}

describe('token exchange', () => {
  it("exchanges a user's access token for one to an allowed API, narrowed to that API's scopes", async () => {
    const tokens = await userTokens();
    const subject = decodeJwt(tokens.access_token);
    const response = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      audience: 'api1',
    });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toMatchObject({
      issued_token_type: accessTokenType,
      token_type: 'Bearer',
      scope: 'api1.read',
    });
    expect(response.body.refresh_token).toBeUndefined();
    const claims = decodeJwt(response.body.access_token as string);
    expect(claims).toMatchObject({
      sub: subject.sub,
      client_id: 'gateway',
      aud: 'api1',
      grant_id: subject.grant_id,
    });
    // How the user authenticated travels with the exchanged token (RFC 9470: APIs may demand a level).
    expect(claims).toMatchObject({ acr: subject.acr, amr: subject.amr, auth_time: subject.auth_time });
    expect(subject.amr).toEqual(['pwd']);
    expect(claims.act).toBeUndefined();
    expect(claims.exp!).toBeLessThanOrEqual(subject.exp!);
    // With a resource indicator instead of an audience name, and with neither (the scopes decide).
    const byResource = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      resource: 'https://api1.example.com',
    });
    expect(decodeJwt(byResource.body.access_token as string).aud).toBe('api1');
    const byScope = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      scope: 'api1.read',
      requested_token_type: accessTokenType,
    });
    expect(byScope.status).toBe(200);
    expect(decodeJwt(byScope.body.access_token as string).aud).toBe('api1');
  });

  it('records the actor in act, and nests prior actors for a chain of delegations', async () => {
    const tokens = await userTokens();
    const first = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      actor_token: await clientToken('gateway', gatewaySecret),
      actor_token_type: accessTokenType,
      audience: 'api1',
    });
    expect(first.status).toBe(200);
    const firstToken = first.body.access_token as string;
    expect(decodeJwt(firstToken).act).toEqual({ sub: 'gateway', client_id: 'gateway' });
    const second = await exchange({
      subject_token: firstToken,
      subject_token_type: accessTokenType,
      actor_token: await clientToken('service-a', serviceSecret),
      actor_token_type: accessTokenType,
      audience: 'api1',
    });
    expect(second.status).toBe(200);
    const claims = decodeJwt(second.body.access_token as string);
    expect(claims.sub).toBe(decodeJwt(tokens.access_token).sub);
    expect(claims.act).toEqual({
      sub: 'service-a',
      client_id: 'service-a',
      act: { sub: 'gateway', client_id: 'gateway' },
    });
    // Without a new actor, the chain the subject token carries is kept.
    const third = await exchange({
      subject_token: firstToken,
      subject_token_type: accessTokenType,
      audience: 'api1',
    });
    expect(decodeJwt(third.body.access_token as string).act).toEqual({
      sub: 'gateway',
      client_id: 'gateway',
    });
  });

  it('refuses audiences outside the client policy', async () => {
    const tokens = await userTokens();
    for (const target of [
      { audience: 'orders-api' },
      { resource: 'https://api.example.com/orders' },
      { scope: 'orders.read' },
      { audience: 'api1', resource: 'https://api.example.com/orders' },
    ]) {
      const response = await exchange({
        subject_token: tokens.access_token,
        subject_token_type: accessTokenType,
        ...target,
      });
      expect(response.status, JSON.stringify(target)).toBe(400);
      expect(response.body.error).toBe('invalid_target');
    }
    const unknown = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      audience: 'no-such-api',
    });
    expect(unknown.body.error).toBe('invalid_target');
  });

  it('never widens scopes: beyond the subject token or the client registration is invalid_scope', async () => {
    const narrow = await userTokens('openid orders.read');
    const widened = await exchange({
      subject_token: narrow.access_token,
      subject_token_type: accessTokenType,
      audience: 'api1',
      scope: 'api1.read',
    });
    expect(widened.status).toBe(400);
    expect(widened.body.error).toBe('invalid_scope');
    // No scope of the target in the subject token at all.
    const nothing = await exchange({
      subject_token: narrow.access_token,
      subject_token_type: accessTokenType,
      audience: 'api1',
    });
    expect(nothing.body.error).toBe('invalid_scope');
    // Granted to the user's token, but not registered for the exchanging client.
    const tokens = await userTokens('openid orders.read orders.write api1.read');
    const unregistered = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      scope: 'orders.write',
    });
    expect(unregistered.body.error).toBe('invalid_scope');
  });

  it('exchanges an ID token issued to the client, within what its authorization granted', async () => {
    const tokens = await userTokens();
    const response = await exchange(
      { subject_token: tokens.id_token, subject_token_type: idTokenType, audience: 'api1' },
      webAppAuth,
    );
    expect(response.status).toBe(200);
    const claims = decodeJwt(response.body.access_token as string);
    expect(claims).toMatchObject({
      sub: decodeJwt(tokens.id_token).sub,
      client_id: 'web-app',
      aud: 'api1',
      scope: 'api1.read',
    });
    expect(await introspect(response.body.access_token as string, webAppAuth)).toMatchObject({
      active: true,
      aud: 'api1',
    });
    // Another client cannot use it.
    const foreign = await exchange({
      subject_token: tokens.id_token,
      subject_token_type: idTokenType,
      audience: 'api1',
    });
    expect(foreign.body.error).toBe('invalid_request');
    // Once the authorization is revoked, the ID token stands for nothing.
    const revoke = await server.app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: webAppAuth },
      payload: form({ token: tokens.refresh_token }),
    });
    expect(revoke.statusCode).toBe(200);
    const after = await exchange(
      { subject_token: tokens.id_token, subject_token_type: idTokenType, audience: 'api1' },
      webAppAuth,
    );
    expect(after.body.error).toBe('invalid_request');
    // ...and what was exchanged from it is revoked with it (same grant id).
    expect(await introspect(response.body.access_token as string, webAppAuth)).toEqual({ active: false });
  });

  it('refuses revoked, expired, garbage and unsupported subject tokens with invalid_request', async () => {
    const tokens = await userTokens();
    const revoked = await userTokens();
    await server.app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: webAppAuth },
      payload: form({ token: revoked.access_token, token_type_hint: 'access_token' }),
    });
    expect(await introspect(revoked.access_token)).toEqual({ active: false });
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true });
    for (const [token, type] of [
      [revoked.access_token, accessTokenType],
      ['garbage', accessTokenType],
      ['a.b.c', idTokenType],
      [tokens.access_token, idTokenType],
      [tokens.id_token, accessTokenType],
      [tokens.refresh_token, 'urn:ietf:params:oauth:token-type:refresh_token'],
      [tokens.access_token, 'urn:ietf:params:oauth:token-type:jwt'],
      ['x'.repeat(9000), accessTokenType],
    ] as const) {
      const response = await exchange({ subject_token: token, subject_token_type: type, audience: 'api1' });
      expect(response.status, `${type} ${token.slice(0, 20)}`).toBe(400);
      expect(response.body.error).toBe('invalid_request');
    }
    for (const values of [
      { subject_token: tokens.access_token },
      { subject_token_type: accessTokenType },
      {
        subject_token: tokens.access_token,
        subject_token_type: accessTokenType,
        actor_token: tokens.access_token,
      },
      {
        subject_token: tokens.access_token,
        subject_token_type: accessTokenType,
        actor_token: 'garbage',
        actor_token_type: accessTokenType,
      },
      {
        subject_token: tokens.access_token,
        subject_token_type: accessTokenType,
        requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
      },
    ]) {
      const response = await exchange({ ...values, audience: 'api1' });
      expect(response.body.error, JSON.stringify(values).slice(0, 80)).toBe('invalid_request');
    }
    server.clock.advance(601);
    const expired = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      audience: 'api1',
    });
    expect(expired.body.error).toBe('invalid_request');
  });

  it('issues tokens that live no longer than the subject token', async () => {
    const tokens = await userTokens();
    const remaining = (decodeJwt(tokens.access_token).exp as number) - server.clock();
    server.clock.advance(remaining - 100);
    const response = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      audience: 'api1',
    });
    expect(response.status).toBe(200);
    expect(response.body.expires_in).toBe(100);
  });

  it('exchanges opaque tokens, issues opaque tokens for an opaque API, but refuses a delegation it could not record', async () => {
    // With ledger.read the user's token is opaque too (one opaque audience makes the token opaque).
    const tokens = await userTokens(`${fullScope} ledger.read`);
    expect(tokens.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const response = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      audience: 'ledger',
    });
    expect(response.status).toBe(200);
    expect(response.body.access_token as string).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const delegated = await exchange({
      subject_token: tokens.access_token,
      subject_token_type: accessTokenType,
      actor_token: await clientToken('gateway', gatewaySecret),
      actor_token_type: accessTokenType,
      audience: 'ledger',
    });
    expect(delegated.body.error).toBe('invalid_target');
  });

  it('is refused to clients not registered for it', async () => {
    const tokens = await userTokens();
    const response = await exchange(
      { subject_token: tokens.access_token, subject_token_type: accessTokenType, audience: 'api1' },
      serviceAuth,
    );
    expect(response.body.error).toBe('unauthorized_client');
  });
});

describe('token exchange registration', () => {
  const client = { clientId: 'c', name: 'C', secret: gatewaySecret, scopes: ['orders.read'] };
  const parse = (extra: Record<string, unknown>) => () =>
    parseConfig(testConfig({ clients: [{ ...client, ...extra }] }));

  it('needs a policy naming known APIs, and the grant type with it', () => {
    expect(parse({ grantTypes: [exchangeGrant] })).toThrow(/tokenExchange/);
    expect(parse({ grantTypes: ['client_credentials'], tokenExchange: { audiences: ['api1'] } })).toThrow(
      /grant type/,
    );
    expect(parse({ grantTypes: [exchangeGrant], tokenExchange: { audiences: ['nope'] } })).toThrow(
      /unknown API/,
    );
    expect(parse({ grantTypes: [exchangeGrant], tokenExchange: { audiences: ['api1'] } })).not.toThrow();
  });
});
