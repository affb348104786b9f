/**
 * The adapters over the same verifier: Fastify (plugin and preHandlers, typed request.auth), the fetch
 * adapter inside a real Hono app, and Express over a real mutual-TLS connection (RFC 8705 §3 certificate
 * binding, with certificates made by openssl for the test).
 */
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../server/test/certificates.ts';
import { protect as expressProtect } from '../src/express.ts';
import { gatehouseAuth, protect, requireRoles, requireScopes } from '../src/fastify.ts';
import { createAuthenticator, withAuth } from '../src/fetch.ts';
import { type AuthInfo, createVerifier, requireScopes as scopes, type Verifier } from '../src/index.ts';
import { apiOptions, closeServer, listenOnLoopback, TestIssuer, testClock } from './support.ts';

const clock = testClock();
let issuer: TestIssuer;
let verifier: Verifier;

beforeAll(async () => {
  issuer = await TestIssuer.start();
  verifier = createVerifier(apiOptions(issuer.issuer, { now: clock, dpop: false }));
});

afterAll(async () => {
  await issuer.close();
});

describe('Fastify', () => {
  async function app() {
    const fastify = Fastify();
    fastify.get('/public', async () => ({ public: true }));
    await fastify.register(async (protectedScope) => {
      await protectedScope.register(gatehouseAuth, { verifier });
      protectedScope.get('/me', async (request) => ({
        sub: request.auth?.subject,
        scopes: [...(request.auth?.scopes ?? [])],
      }));
      protectedScope.get('/orders', { preHandler: requireScopes('orders.read') }, async () => ({
        orders: [],
      }));
      protectedScope.get('/admin', { preHandler: requireRoles('OrderAdmin') }, async () => ({ admin: true }));
    });
    fastify.get('/single', { preHandler: [protect(verifier), requireScopes('orders.write')] }, async () => ({
      ok: true,
    }));
    return fastify;
  }

  it('protects the plugin scope and sets request.auth', async () => {
    const fastify = await app();
    const token = issuer.token(clock());
    expect((await fastify.inject({ url: '/public' })).statusCode).toBe(200);
    const anonymous = await fastify.inject({ url: '/me' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="orders-api"');
    const me = await fastify.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ sub: 'alice', scopes: ['openid', 'orders.read'] });
    expect(
      (await fastify.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })).statusCode,
    ).toBe(200);
    const admin = await fastify.inject({ url: '/admin', headers: { authorization: `Bearer ${token}` } });
    expect(admin.statusCode).toBe(403);
    expect(admin.headers['www-authenticate']).toBe(
      'Bearer realm="orders-api", error="insufficient_scope", error_description="the role OrderAdmin is required"',
    );
    await fastify.close();
  });

  it('guards a single route with protect() and a scope preHandler', async () => {
    const fastify = await app();
    const response = await fastify.inject({
      url: '/single',
      headers: { authorization: `Bearer ${issuer.token(clock())}` },
    });
    expect(response.statusCode).toBe(403);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="orders-api", error="insufficient_scope", error_description="the token lacks the scope orders.write", scope="orders.write"',
    );
    const malformed = await fastify.inject({ url: '/single', headers: { authorization: 'Bearer a.b.c' } });
    expect(malformed.statusCode).toBe(401);
    await fastify.close();
  });
});

describe('fetch adapter in Hono', () => {
  it('authenticates web Requests and returns ready refusals', async () => {
    const authenticate = createAuthenticator(verifier);
    const app = new Hono<{ Variables: { auth: AuthInfo } }>();
    app.use('/api/*', async (c, next) => {
      const result = await authenticate(c.req.raw);
      if (!result.ok) return result.response;
      c.set('auth', result.auth);
      await next();
    });
    app.get('/api/hello', (c) => c.json({ sub: c.get('auth').subject }));
    app.get('/api/orders', async (c) => {
      const result = await authenticate(c.req.raw, scopes('orders.write'));
      return result.ok ? c.json({ ok: true }) : result.response;
    });

    const token = issuer.token(clock());
    const hello = await app.request('/api/hello', { headers: { authorization: `Bearer ${token}` } });
    expect(hello.status).toBe(200);
    expect(await hello.json()).toEqual({ sub: 'alice' });
    const refused = await app.request('/api/hello');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="orders-api"');
    const query = await app.request(`/api/hello?access_token=${token}`);
    expect(query.status).toBe(400);
    const scope = await app.request('/api/orders', { headers: { authorization: `Bearer ${token}` } });
    expect(scope.status).toBe(403);
    expect(await scope.json()).toEqual({
      error: 'insufficient_scope',
      error_description: 'the token lacks the scope orders.write',
      scope: 'orders.write',
    });
  });

  it('wraps a handler with withAuth', async () => {
    const handler = withAuth(verifier, [scopes('orders.read')], (_request, auth) =>
      Response.json({ client: auth.clientId }),
    );
    const ok = await handler(
      new Request('http://api.example.com/orders', {
        headers: { authorization: `Bearer ${issuer.token(clock())}` },
      }),
    );
    expect(await ok.json()).toEqual({ client: 'web-app' });
    const expired = await handler(
      new Request('http://api.example.com/orders', {
        headers: { authorization: `Bearer ${issuer.token(clock(), { exp: clock() - 60 })}` },
      }),
    );
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toBe(
      'Bearer realm="orders-api", error="invalid_token", error_description="the token has expired"',
    );
  });
});

describe('mutual-TLS certificate-bound tokens (RFC 8705 §3) over a real TLS connection', () => {
  const certificates = testCertificates('gatehouse-mtls-');
  let server: Server;
  let port: number;
  const file = certificates.pem;
  let thumbprint: string;

  beforeAll(async () => {
    for (const name of ['server', 'client', 'other']) certificates.selfSigned(name, `/CN=${name}`);
    thumbprint = certificates.thumbprint('client');
    const app = express();
    app.use(expressProtect(verifier));
    app.get('/hello', (req, res) => {
      res.json({ binding: req.auth?.binding });
    });
    server = createHttpsServer(
      { key: file('server.key'), cert: file('server.crt'), requestCert: true, rejectUnauthorized: false },
      app,
    );
    port = await listenOnLoopback(server);
  });

  afterAll(async () => {
    await closeServer(server);
  });

  function get(
    token: string,
    certificate?: 'client' | 'other',
  ): Promise<{ status: number; wwwAuthenticate?: string }> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/hello',
          headers: { authorization: `Bearer ${token}` },
          rejectUnauthorized: false,
          agent: false,
          ...(certificate === undefined
            ? {}
            : { key: file(`${certificate}.key`), cert: file(`${certificate}.crt`) }),
        },
        (response) => {
          response.resume();
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              ...(response.headers['www-authenticate'] === undefined
                ? {}
                : { wwwAuthenticate: response.headers['www-authenticate'] }),
            }),
          );
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  it('accepts the token over a connection with the bound certificate only', async () => {
    const token = issuer.token(clock(), { cnf: { 'x5t#S256': thumbprint } });
    expect((await get(token, 'client')).status).toBe(200);
    const refused =
      'Bearer realm="orders-api", error="invalid_token", error_description="the token is bound to another client certificate"';
    expect(await get(token, 'other')).toEqual({ status: 401, wwwAuthenticate: refused });
    expect(await get(token)).toEqual({ status: 401, wwwAuthenticate: refused });
    // An unbound token works with or without a certificate.
    expect((await get(issuer.token(clock()), 'other')).status).toBe(200);
  });
});
