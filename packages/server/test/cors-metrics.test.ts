import { describe, expect, it } from 'vitest';
import { serviceTokenRequest, testClients, tokenRequest, useServer, webAppAuth } from './helpers.ts';

const metricsToken = 'metrics-token-0123456789-abcdefghijklmnopqrstuvwxyz';
const server = useServer({
  clients: [
    ...testClients({ 'web-app': { corsOrigins: ['https://spa.example.com'] } }),
    {
      clientId: 'browser-app',
      name: 'Browser App',
      tokenEndpointAuthMethod: 'none',
      grantTypes: ['authorization_code'],
      redirectUris: [
        'https://browser.example.com/cb',
        'http://localhost:5173/cb',
        'com.example.browser:/cb',
        'http://127.0.0.1/cb',
      ],
      scopes: ['openid'],
    },
  ],
  metrics: { bearerToken: metricsToken },
});

describe('CORS', () => {
  it('answers a preflight from a registered origin on browser endpoints', async () => {
    for (const url of ['/token', '/userinfo', '/revoke', '/jwks', '/.well-known/openid-configuration']) {
      const response = await server.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: 'https://spa.example.com', 'access-control-request-method': 'POST' },
      });
      expect(response.statusCode).toBe(204);
      expect(response.headers['access-control-allow-origin']).toBe('https://spa.example.com');
      expect(response.headers['access-control-allow-methods']).toBe('GET, POST');
      expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('gives no CORS headers to other origins', async () => {
    const response = await server.app.inject({
      method: 'OPTIONS',
      url: '/token',
      headers: { origin: 'https://evil.example.com' },
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    const jwks = await server.app.inject({ url: '/jwks', headers: { origin: 'https://evil.example.com' } });
    expect(jwks.headers['access-control-allow-origin']).toBeUndefined();
    expect(jwks.headers.vary).toBe('Origin');
  });

  it('decorates actual responses, including errors, for a registered origin', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers: { origin: 'https://spa.example.com', 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials',
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['access-control-allow-origin']).toBe('https://spa.example.com');
    expect(response.headers['access-control-expose-headers']).toContain('WWW-Authenticate');
  });

  it("gives a public client its web redirect URIs' origins, never a custom scheme or loopback IP's", async () => {
    const allowed = async (origin: string) =>
      (
        await server.app.inject({
          method: 'OPTIONS',
          url: '/token',
          headers: { origin, 'access-control-request-method': 'POST' },
        })
      ).headers['access-control-allow-origin'];
    expect(await allowed('https://browser.example.com')).toBe('https://browser.example.com');
    expect(await allowed('http://localhost:5173')).toBe('http://localhost:5173');
    // Native apps (RFC 8252: custom schemes, loopback IP literals on any port), and a confidential
    // client's redirect origin (web-app's), give no CORS.
    for (const origin of [
      'http://127.0.0.1',
      'http://127.0.0.1:5173',
      'http://localhost',
      'com.example.browser:',
      'null',
      'https://webapp.example.com',
    ]) {
      expect(await allowed(origin), origin).toBeUndefined();
    }
  });

  it('never applies to /authorize, the login pages or introspection', async () => {
    for (const url of ['/authorize', '/interaction/x', '/introspect']) {
      const response = await server.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: 'https://spa.example.com' },
      });
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    }
    const authorize = await server.app.inject({
      url: '/authorize?client_id=web-app',
      headers: { origin: 'https://spa.example.com' },
    });
    expect(authorize.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('metrics', () => {
  const management = () => server.management!;

  it('requires the configured bearer token', async () => {
    expect((await management().inject({ url: '/metrics' })).statusCode).toBe(401);
    expect(
      (await management().inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode,
    ).toBe(401);
  });

  it('are not served on the issuer port, with or without the token', async () => {
    for (const headers of [{}, { authorization: `Bearer ${metricsToken}` }]) {
      const response = await server.app.inject({ url: '/metrics', headers });
      expect(response.statusCode).toBe(404);
      expect(response.body).not.toContain('gatehouse_');
    }
  });

  it('leave the management listener its health probes', async () => {
    expect((await management().inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await management().inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
  });

  it('counts requests by route and status, latency, and tokens by grant type', async () => {
    await serviceTokenRequest(server);
    await serviceTokenRequest(server);
    await tokenRequest(server, { grant_type: 'client_credentials' }, webAppAuth);
    await server.app.inject({ url: '/interaction/abc' });
    const response = await management().inject({
      url: '/metrics',
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    expect(text).toContain('gatehouse_tokens_issued_total{grant_type="client_credentials"} 2');
    expect(text).toMatch(/gatehouse_http_requests_total\{route="\/token",method="POST",status="200"\} 2/);
    expect(text).toMatch(/gatehouse_http_requests_total\{route="\/token",method="POST",status="400"\} 1/);
    expect(text).toContain('route="/interaction/:id"');
    expect(text).toContain('gatehouse_http_request_duration_seconds_bucket');
    expect(text).toContain('gatehouse_process_cpu_seconds_total');
  });
});

describe('the management listener', () => {
  const open = useServer();
  const disabled = useServer({ management: { enabled: false } });

  it('serves /metrics without a token by default, on its own loopback port only', async () => {
    await open.listen();
    const issuerAddress = open.app.listeningOrigin;
    const managementAddress = open.management!.listeningOrigin;
    expect(managementAddress).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(managementAddress).not.toBe(issuerAddress);
    const metrics = await fetch(`${managementAddress}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('gatehouse_process_cpu_seconds_total');
    const onIssuerPort = await fetch(`${issuerAddress}/metrics`);
    expect(onIssuerPort.status).toBe(404);
    expect(await onIssuerPort.text()).not.toContain('gatehouse_');
    expect((await fetch(`${issuerAddress}/healthz`)).status).toBe(200);
  });

  it('is not built when management.enabled is false', () => {
    expect(disabled.management).toBeUndefined();
  });
});
