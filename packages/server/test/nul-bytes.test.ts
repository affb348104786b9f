/**
 * A NUL character in a request parameter (`%00`) is refused as `invalid_request` before it reaches the
 * store: PostgreSQL text cannot hold it and would fail the query (a 500), SQLite would store it. Every
 * endpoint that takes parameters, on both backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendNames, freshStore } from './backends.ts';
import { buildServer, type GatehouseServer, parseConfig, serviceSecret, testConfig } from './helpers.ts';

const basic = `Basic ${Buffer.from(`service-a:${serviceSecret}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe.each(backendNames)('NUL characters in parameters (%s)', (backend) => {
  let server: GatehouseServer;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const store = freshStore(backend);
    drop = store.drop;
    server = await buildServer(
      parseConfig(
        testConfig({
          storage: store.options,
          registration: { enabled: true, mode: 'open' },
          admin: { enabled: true },
        }),
      ),
    );
  });
  afterAll(async () => {
    await server?.close();
    await drop?.();
  });

  it.each([
    ['/token', 'grant_type=client_credentials&client_id=service%00a&client_secret=x'],
    ['/token', 'grant_type=refresh_token&refresh_token=abc%00def&client_id=native-app'],
    ['/token', 'grant_type=authorization_code&code=abc%00&client_id=native-app&code_verifier=x'],
    ['/introspect', 'token=abc%00def'],
    ['/revoke', 'token=abc%00def'],
    ['/par', 'response_type=code&redirect_uri=https%3A%2F%2Fx%00'],
    ['/device_authorization', 'client_id=device%00app'],
    ['/end_session', 'client_id=web%00app'],
  ])('POST %s %s: 400 invalid_request, no 500', async (url, body) => {
    const response = await server.app.inject({
      method: 'POST',
      url,
      headers: {
        ...form,
        ...(url === '/introspect' || url === '/revoke' || url === '/par' ? { authorization: basic } : {}),
      },
      payload: body,
    });
    expect(response.statusCode).toBe(400);
    if (url !== '/end_session') expect(response.json().error).toBe('invalid_request');
    expect(response.body).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('GET /authorize with a NUL in client_id: an HTML error page, no 500', async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/authorize?client_id=web%00app&response_type=code',
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toContain('invalid_request');
  });

  it('a NUL in a parameter name is refused the same way', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers: { ...form, authorization: basic },
      payload: 'grant_type=client_credentials&x%00y=1',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('invalid_request');
  });

  it.each([
    ['/register', { client_name: 'a\u0000b', redirect_uris: ['https://x.example.com/cb'] }],
    ['/register', { client_name: 'ok', redirect_uris: ['https://x.example.com/c\u0000b'] }],
    ['/admin/v1/clients', { clientId: 'x\u0000y', name: 'x' }],
  ])('a JSON body with a NUL in a string at %s: 400, no 500, nothing stored', async (url, body) => {
    const response = await server.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization: basic },
      payload: JSON.stringify(body),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('invalid_request');
  });

  it('an escaped backslash before u0000 is text, not a NUL', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/register',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        client_name: 'back\\u0000slash',
        redirect_uris: ['https://x.example.com/cb'],
        token_endpoint_auth_method: 'none',
      }),
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().client_name).toBe('back\\u0000slash');
  });
});
