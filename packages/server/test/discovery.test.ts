import { compactVerify, createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { serviceTokenRequest, startServer, tamperSignature, useServer } from './helpers.ts';

const server = useServer();

describe('discovery and JWKS', () => {
  it('publishes OpenID and RFC 8414 metadata listing only what is supported', async () => {
    for (const url of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const response = await server.app.inject({ url });
      expect(response.statusCode).toBe(200);
      const metadata = JSON.parse(response.body);
      expect(metadata).toMatchObject({
        issuer: 'http://localhost:3000',
        authorization_endpoint: 'http://localhost:3000/authorize',
        token_endpoint: 'http://localhost:3000/token',
        userinfo_endpoint: 'http://localhost:3000/userinfo',
        jwks_uri: 'http://localhost:3000/jwks',
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: [
          'client_secret_basic',
          'client_secret_post',
          'private_key_jwt',
          'none',
        ],
        token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
        introspection_endpoint_auth_methods_supported: [
          'client_secret_basic',
          'client_secret_post',
          'private_key_jwt',
        ],
        id_token_signing_alg_values_supported: ['ES256'],
        authorization_response_iss_parameter_supported: true,
        request_uri_parameter_supported: false,
      });
      expect(metadata.grant_types_supported).toEqual([
        'authorization_code',
        'client_credentials',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
        'urn:ietf:params:oauth:grant-type:token-exchange',
      ]);
      // Mutual TLS is not listed: this server has neither a TLS listener nor a proxy certificate header.
      expect(metadata.tls_client_certificate_bound_access_tokens).toBeUndefined();
      expect(metadata.device_authorization_endpoint).toBe('http://localhost:3000/device_authorization');
      expect(metadata.scopes_supported).toContain('orders.read');
      expect(metadata.end_session_endpoint).toBe('http://localhost:3000/end_session');
    }
  });

  it('publishes public keys only, and they verify issued tokens', async () => {
    const jwks = JSON.parse((await server.app.inject({ url: '/jwks' })).body);
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(key.d).toBeUndefined();
    const response = await serviceTokenRequest(server);
    const token = response.body.access_token as string;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: 'http://localhost:3000',
      audience: 'orders-api',
      typ: 'at+jwt',
    });
    expect(protectedHeader.kid).toBe(key.kid);
    expect(payload.client_id).toBe('service-a');
    await expect(compactVerify(tamperSignature(token), createLocalJWKSet(jwks))).rejects.toThrow();
  });

  it('answers health and readiness probes', async () => {
    expect(JSON.parse((await server.app.inject({ url: '/healthz' })).body)).toEqual({ status: 'ok' });
    expect(JSON.parse((await server.app.inject({ url: '/readyz' })).body)).toEqual({ status: 'ready' });
  });

  it('answers unknown paths with a JSON 404', async () => {
    const response = await server.app.inject({ url: '/nope' });
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).error).toBe('not_found');
  });
});

describe('signing algorithms', () => {
  for (const algorithm of ['RS256', 'PS256', 'EdDSA'] as const) {
    it(`signs verifiable tokens with ${algorithm}`, async () => {
      const other = await startServer({ keys: { algorithm } });
      try {
        const jwks = JSON.parse((await other.app.inject({ url: '/jwks' })).body);
        const response = await serviceTokenRequest(other);
        const { protectedHeader } = await jwtVerify(
          response.body.access_token as string,
          createLocalJWKSet(jwks),
          { audience: 'orders-api' },
        );
        expect(protectedHeader.alg).toBe(algorithm);
      } finally {
        await other.close();
      }
    });
  }
});
