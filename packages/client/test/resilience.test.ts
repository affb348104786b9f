/**
 * Misbehaving servers (a local node:http server): HTML instead of JSON, 500s, silence, a body that never
 * ends, oversized bodies, refused connections, aborts, malformed documents. Every case ends in a typed
 * error, none hangs. Also discovery: RFC 8414 path insertion, issuer mismatch, the cache.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AccessTokenSource,
  authenticatedFetch,
  clearDiscoveryCache,
  discover,
  GatehouseClientError,
  type OAuthClient,
  OAuthResponseError,
} from '../src/index.ts';
import { testClock } from './support/gatehouse.ts';
import { closeLocalServers, json, serviceClient, startLocalServer } from './support/local-server.ts';

afterEach(async () => {
  await closeLocalServers();
  clearDiscoveryCache();
});

function clientFor(url: string, http: ConstructorParameters<typeof OAuthClient>[0]['http'] = {}) {
  return serviceClient(url, {
    clientAuthentication: { method: 'client_secret_post', clientSecret: 'secret' },
    http,
  });
}

async function failure(promise: Promise<unknown>): Promise<GatehouseClientError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(GatehouseClientError);
  return error as GatehouseClientError;
}

describe('bad token endpoint responses', () => {
  it('HTML instead of JSON is invalid_response', async () => {
    const server = await startLocalServer((_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Sign in</body></html>');
    });
    const error = await failure(clientFor(server.url).clientCredentials());
    expect(error.code).toBe('invalid_response');
    expect(error.message).toContain('text/html');
  });

  it('malformed JSON is invalid_response', async () => {
    const server = await startLocalServer((_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token": ');
    });
    expect((await failure(clientFor(server.url).clientCredentials())).code).toBe('invalid_response');
  });

  it('a 200 without access_token is invalid_response', async () => {
    const server = await startLocalServer((_request, _body, response) =>
      json(response, 200, { token_type: 'Bearer' }),
    );
    expect((await failure(clientFor(server.url).clientCredentials())).code).toBe('invalid_response');
  });

  it('a 500 with a text body is http_error; a 500 with an OAuth error body is an OAuthResponseError', async () => {
    let answer: 'text' | 'json' = 'text';
    const server = await startLocalServer((_request, _body, response) => {
      if (answer === 'text')
        response.writeHead(500, { 'content-type': 'text/plain' }).end('upstream exploded');
      else json(response, 500, { error: 'server_error', error_description: 'database down' });
    });
    const text = await failure(clientFor(server.url).clientCredentials());
    expect(text.code).toBe('http_error');
    expect(text.message).toContain('500');
    answer = 'json';
    const oauth = await failure(clientFor(server.url).clientCredentials());
    expect(oauth).toBeInstanceOf(OAuthResponseError);
    expect((oauth as OAuthResponseError).error).toBe('server_error');
    expect((oauth as OAuthResponseError).status).toBe(500);
  });

  it('a server that never answers is a timeout', async () => {
    const server = await startLocalServer(() => {});
    expect((await failure(clientFor(server.url, { timeout: 200 }).clientCredentials())).code).toBe('timeout');
  });

  it('a body that never ends is a timeout', async () => {
    const server = await startLocalServer((_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"access_token":"');
    });
    expect((await failure(clientFor(server.url, { timeout: 300 }).clientCredentials())).code).toBe('timeout');
  });

  it('an oversized body is response_too_large, declared or chunked', async () => {
    const big = JSON.stringify({ access_token: 'x'.repeat(200_000), token_type: 'Bearer' });
    let chunked = false;
    const server = await startLocalServer((_request, _body, response) => {
      if (!chunked) {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(big.length) });
        response.end(big);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      for (let offset = 0; offset < big.length; offset += 10_000)
        response.write(big.slice(offset, offset + 10_000));
      response.end();
    });
    const client = clientFor(server.url, { maxResponseSize: 64 * 1024 });
    expect((await failure(client.clientCredentials())).code).toBe('response_too_large');
    chunked = true;
    expect((await failure(client.clientCredentials())).code).toBe('response_too_large');
  });

  it('a refused connection is network_error', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const error = await failure(clientFor(`http://127.0.0.1:${port}`).clientCredentials());
    expect(error.code).toBe('network_error');
  });

  it('an aborted request is aborted', async () => {
    const server = await startLocalServer(() => {});
    const controller = new AbortController();
    const pending = clientFor(server.url).clientCredentials({ signal: controller.signal });
    controller.abort();
    expect((await failure(pending)).code).toBe('aborted');
  });
});

describe('authenticatedFetch failures', () => {
  const source: AccessTokenSource = {
    getAccessToken: async () => ({ value: 'token', type: 'Bearer', expiresAt: Number.MAX_SAFE_INTEGER }),
  };

  it('maps a silent API to timeout, a refused connection to network_error and an abort to aborted', async () => {
    const server = await startLocalServer(() => {});
    expect((await failure(authenticatedFetch(source, { timeout: 200 })(`${server.url}/api`))).code).toBe(
      'timeout',
    );
    const controller = new AbortController();
    const pending = authenticatedFetch(source)(`${server.url}/api`, { signal: controller.signal });
    controller.abort();
    expect((await failure(pending)).code).toBe('aborted');
    const closed = server.url;
    await server.close();
    expect((await failure(authenticatedFetch(source)(`${closed}/api`))).code).toBe('network_error');
  });
});

describe('discovery', () => {
  it('falls back to RFC 8414 with the well-known segment before the issuer path, once per issuer', async () => {
    const seen: string[] = [];
    const server = await startLocalServer((request, _body, response) => {
      seen.push(request.url!);
      if (request.url === '/.well-known/oauth-authorization-server/tenant-a') {
        json(response, 200, {
          issuer: `${server.url}/tenant-a`,
          token_endpoint: `${server.url}/tenant-a/token`,
        });
      } else {
        json(response, 404, { error: 'not_found' });
      }
    });
    const clock = testClock();
    const metadata = await discover(`${server.url}/tenant-a`, { now: clock });
    expect(metadata.token_endpoint).toBe(`${server.url}/tenant-a/token`);
    expect(seen).toEqual([
      '/tenant-a/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/tenant-a',
    ]);
    await discover(`${server.url}/tenant-a`, { now: clock });
    expect(seen).toHaveLength(2);
    clock.advance(3600);
    await discover(`${server.url}/tenant-a`, { now: clock });
    expect(seen).toHaveLength(4);
  });

  it('refuses a document that names another issuer', async () => {
    const server = await startLocalServer((_request, _body, response) =>
      json(response, 200, { issuer: 'https://impostor.example.com' }),
    );
    expect((await failure(discover(server.url))).code).toBe('issuer_mismatch');
  });

  it('does not cache a failure', async () => {
    let healthy = false;
    const server = await startLocalServer((_request, _body, response) => {
      if (healthy) json(response, 200, { issuer: server.url });
      else response.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
    });
    expect((await failure(discover(server.url))).code).toBe('invalid_response');
    healthy = true;
    expect((await discover(server.url)).issuer).toBe(server.url);
  });
});
