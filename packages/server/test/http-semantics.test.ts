/**
 * HTTP rules every endpoint follows: a 405 answer names the supported methods in `Allow` (RFC 9110
 * §15.5.6), checked for every path of Fastify's route table; `Strict-Transport-Security` on every response
 * when the issuer is https (RFC 6797 §7.1), errors of every kind included; a form body with a content
 * coding or a charset other than UTF-8 is refused with 415 (RFC 9110 §15.5.16).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  buildServer,
  formType,
  type GatehouseServer,
  parseConfig,
  postRaw,
  serviceAuth,
  testConfig,
  useServer,
} from './helpers.ts';
import { freePort } from './interop-helpers.ts';
import { parseRaw, rawExchange } from './raw-http.ts';

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** Every path in Fastify's own route listing (its tree printed with the full path of each node rebuilt). */
function routePaths(tree: string): string[] {
  const paths: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(/.exec(line);
    if (match === null) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    paths.push(stack.join(''));
  }
  return paths;
}

describe('405 Method Not Allowed', () => {
  const server = useServer();

  it('every path answers the methods it does not serve with 405 and an Allow header naming the others', async () => {
    await server.app.ready();
    const paths = routePaths(server.app.printRoutes({ commonPrefix: false }));
    expect(paths).toEqual(
      expect.arrayContaining(['/token', '/authorize', '/interaction/:id/login', '/jwks']),
    );
    const allows: Record<string, string> = {};
    for (const path of paths) {
      const url = path.replace(':id', 'some-id');
      const answers = await Promise.all(
        methods.map(async (method) => ({
          method,
          // A browser's Accept: the landing page at / answers JSON clients with the 404 of unknown paths.
          answer: await server.app.inject({ method, url, headers: { accept: 'text/html' } }),
        })),
      );
      const refused = answers.filter(({ answer }) => answer.statusCode === 405);
      const served = answers.filter(({ answer }) => answer.statusCode !== 405).map(({ method }) => method);
      expect(refused.length, `${path} refuses some method`).toBeGreaterThan(0);
      for (const { method, answer } of answers) {
        expect(answer.statusCode, `${method} ${path} is routed`).not.toBe(404);
      }
      for (const { answer } of refused) {
        const allow = String(answer.headers.allow ?? '');
        expect(allow.split(', ').sort(), `Allow of ${path}`).toEqual([...served].sort());
        allows[path] = allow;
      }
    }
    expect(allows['/token']).toBe('POST, OPTIONS');
    expect(allows['/authorize']).toBe('GET, POST');
    expect(allows['/interaction/:id/login']).toBe('POST');
    expect(allows['/jwks']).toBe('GET, OPTIONS');
  });

  it('a 405 keeps the error format of its path', async () => {
    const api = await server.app.inject({ method: 'GET', url: '/token' });
    expect(api.statusCode).toBe(405);
    expect(JSON.parse(api.body)).toMatchObject({ error: 'method_not_allowed' });
    const page = await server.app.inject({ method: 'PUT', url: '/interaction/some-id/login' });
    expect(page.statusCode).toBe(405);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers.allow).toBe('POST');
  });
});

describe('Strict-Transport-Security', () => {
  let server: GatehouseServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    server = await buildServer(
      parseConfig(
        testConfig({
          issuer: 'https://id.example.com',
          server: { host: '127.0.0.1', port, trustProxy: true },
        }),
      ),
    );
    await server.listen();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is on every answer of an https issuer: success, protocol and framework errors, 404 and 405', async () => {
    const answers = [
      await server.app.inject({ url: '/.well-known/openid-configuration' }),
      await server.app.inject({ url: '/healthz' }),
      await postRaw(server, '/token', { 'content-type': formType }, 'grant_type=nope'),
      await postRaw(server, '/token', { 'content-type': 'application/json' }, '{}'),
      await server.app.inject({ url: '/authorize?client_id=nobody' }),
      await server.app.inject({ url: '/interaction/%FF/login' }),
      await server.app.inject({ url: '/no/such/path' }),
      await server.app.inject({ method: 'DELETE', url: '/jwks' }),
      await postRaw(
        server,
        '/token',
        { 'content-type': formType, authorization: serviceAuth },
        'grant_type=client_credentials',
      ),
    ];
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 401, 415, 400, 400, 404, 405, 200]);
    for (const answer of answers) {
      expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
    }
  });

  it('is on client errors answered on the raw socket', async () => {
    const answer = parseRaw(
      await rawExchange(port, `GET /token HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    );
    expect(answer.status).toBe(431);
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('is not sent by an http issuer', async () => {
    const plain = await buildServer(parseConfig(testConfig()));
    try {
      const answer = await plain.app.inject({ url: '/jwks' });
      expect(answer.headers['strict-transport-security']).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

describe('415 for a form that is not plain UTF-8', () => {
  const server = useServer();
  const credentials = { authorization: serviceAuth };
  const body = 'grant_type=client_credentials';

  it('refuses a content coding with a JSON OAuth error at the token endpoint', async () => {
    const answer = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': formType, 'content-encoding': 'gzip', ...credentials },
      payload: gzipSync(body),
    });
    expect(answer.statusCode).toBe(415);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a charset other than UTF-8, JSON at /token and the HTML page at the login form', async () => {
    const token = await postRaw(
      server,
      '/token',
      { 'content-type': `${formType}; charset=ISO-8859-1`, ...credentials },
      body,
    );
    expect(token.statusCode).toBe(415);
    expect(JSON.parse(token.body)).toMatchObject({ error: 'invalid_request' });
    const login = await postRaw(
      server,
      '/interaction/some-id/login',
      { 'content-type': `${formType}; charset=windows-1252` },
      'username=alice&password=x',
    );
    expect(login.statusCode).toBe(415);
    expect(login.headers['content-type']).toMatch(/^text\/html/);
  });

  it('accepts UTF-8 declared or not, and the identity coding', async () => {
    const variants: Record<string, string>[] = [
      { 'content-type': formType },
      { 'content-type': `${formType}; charset=UTF-8` },
      { 'content-type': `${formType};charset="utf-8"`, 'content-encoding': 'identity' },
    ];
    for (const headers of variants) {
      const answer = await postRaw(server, '/token', { ...headers, ...credentials }, body);
      expect(answer.statusCode).toBe(200);
    }
  });
});
