/**
 * Interop with oidc-provider (a certified OpenID Provider) on a loopback port, configured as the bench
 * peer is: resource indicators with ES256 JWT access tokens (RFC 9068) for the orders API. Its tokens are
 * accepted through OpenID discovery, and its DPoP-bound tokens (RFC 9449) with a proof from the holder.
 */
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, requireScopes, type Verifier } from '../src/index.ts';
import { apiOptions, closeServer, dpopProof, ecKey, listenOnLoopback, thumbprint } from './support.ts';

const client = { id: 'service-a', secret: 'service-a-oidc-provider-secret-0123456789abcdef' };
const resource = 'http://127.0.0.1:4000/orders';
let server: Server;
let issuer: string;
let verifier: Verifier;

beforeAll(async () => {
  server = createServer();
  issuer = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  const signing = ecKey('op-key');
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: client.id,
        client_secret: client.secret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    jwks: {
      keys: [{ ...signing.privateKey.export({ format: 'jwk' }), kid: 'op-key', alg: 'ES256', use: 'sig' }],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'orders.read',
          audience: 'orders-api',
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  server.on('request', provider.callback());
  verifier = createVerifier(apiOptions(issuer, { publicUrl: 'http://127.0.0.1:4000' }));
});

afterAll(async () => {
  await closeServer(server);
});

async function token(dpop?: string): Promise<{ access_token: string; token_type: string }> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      ...(dpop === undefined ? {} : { dpop }),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders.read', resource }),
  });
  const body = (await response.json()) as { access_token: string; token_type: string };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

describe('oidc-provider', () => {
  it('issues JWT access tokens the verifier accepts, with scope policies', async () => {
    const { access_token } = await token();
    const result = await verifier.authenticate(
      { method: 'GET', path: '/orders', headers: { authorization: `Bearer ${access_token}` } },
      requireScopes('orders.read'),
    );
    expect(result.ok).toBe(true);
    expect(result.ok && result.auth.clientId).toBe('service-a');
    const denied = await verifier.authenticate(
      { method: 'GET', path: '/orders', headers: { authorization: `Bearer ${access_token}` } },
      requireScopes('orders.write'),
    );
    expect(denied.ok).toBe(false);
    expect(!denied.ok && denied.status).toBe(403);
  });

  it('issues DPoP-bound tokens the verifier accepts with the holder proof only', async () => {
    const holder = ecKey('holder');
    const tokenProof = dpopProof(holder, {
      method: 'POST',
      url: `${issuer}/token`,
      iat: Math.floor(Date.now() / 1000),
    });
    const { access_token, token_type } = await token(tokenProof);
    expect(token_type).toBe('DPoP');
    const claims = JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()) as {
      cnf?: { jkt?: string };
    };
    expect(claims.cnf?.jkt).toBe(thumbprint(holder));
    const request = (proof: string, scheme = 'DPoP') => ({
      method: 'GET',
      path: '/orders',
      headers: { authorization: `${scheme} ${access_token}`, dpop: proof },
    });
    const proof = () =>
      dpopProof(holder, {
        method: 'GET',
        url: 'http://127.0.0.1:4000/orders',
        accessToken: access_token,
        iat: Math.floor(Date.now() / 1000),
      });
    expect((await verifier.authenticate(request(proof()))).ok).toBe(true);
    const asBearer = await verifier.authenticate(request(proof(), 'Bearer'));
    expect(!asBearer.ok && asBearer.error.code).toBe('wrong_scheme');
    const stolen = dpopProof(ecKey(), {
      method: 'GET',
      url: 'http://127.0.0.1:4000/orders',
      accessToken: access_token,
      iat: Math.floor(Date.now() / 1000),
    });
    const thief = await verifier.authenticate(request(stolen));
    expect(!thief.ok && thief.error.code).toBe('dpop_binding');
  });
});
