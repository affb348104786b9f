/**
 * Every error answer goes through Gatehouse's renderers, the ones the HTTP framework raises too: bad
 * percent-encoding in the path, a too-long path parameter, bodies too large or of the wrong type, headers
 * too large and other client errors on the raw socket. API endpoints answer OAuth JSON errors (RFC 6749
 * §5.2), pages the HTML error page (with its error code, the request id and a way back); no answer echoes
 * the URL or its query. Raw-socket requests (net.connect) cover what inject() cannot send.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as helpers from './helpers.ts';
import { freePort } from './interop-helpers.ts';
import { parseRaw, rawExchange } from './raw-http.ts';

const secret = 'hunter2-do-not-echo';
const log = helpers.logCapture();
let server: helpers.GatehouseServer;
let port: number;

beforeAll(async () => {
  port = await freePort();
  const config = helpers.parseConfig(
    helpers.testConfig({ server: { host: '127.0.0.1', port }, logging: { level: 'info' } }),
  );
  server = await helpers.buildServer(config, {
    logStream: log.stream,
  });
  await server.listen();
});
afterAll(async () => {
  await server?.close();
});

/** The OAuth JSON error shape of API endpoints. */
function expectJsonError(
  answer: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
) {
  expect(answer.status).toBe(status);
  expect(String(answer.headers['content-type'])).toMatch(/^application\/json/);
  expect(answer.headers['cache-control']).toBe('no-store');
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(body.error).toBe('invalid_request');
  expectNoEcho(answer.body);
}

/** The HTML error page of browser pages: its error code, the request id and a way back. */
function expectErrorPage(
  answer: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
) {
  expect(answer.status).toBe(status);
  expect(String(answer.headers['content-type'])).toMatch(/^text\/html/);
  expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
  const page = errorPageParts(answer.body);
  expect(page.code).toBe('invalid_request');
  expect(page.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(page.back).toBe(`${helpers.issuer}/`);
  expectNoEcho(answer.body);
}

function errorPageParts(html: string) {
  return {
    code: /Error code: <code>([^<]*)<\/code>/.exec(html)?.[1],
    requestId: /Request ID: <code>([^<]*)<\/code>/.exec(html)?.[1],
    back: /<a class="back" href="([^"]*)"/.exec(html)?.[1],
  };
}

function expectNoEcho(body: string) {
  expect(body).not.toContain(secret);
  expect(body).not.toContain('password=');
  expect(body).not.toContain('FST_');
  expect(body).not.toContain('%FF');
  expect(body).not.toContain('aaaaaaaaaa');
}

describe('framework errors through inject()', () => {
  it('bad percent-encoding in the path of a page: the HTML error page, nothing echoed', async () => {
    const answer = await server.app.inject({ url: `/interaction/%FF/login?password=${secret}` });
    expectErrorPage({ status: answer.statusCode, headers: answer.headers, body: answer.body }, 400);
  });

  it('bad percent-encoding in the path of an API endpoint: a JSON OAuth error, nothing echoed', async () => {
    const answer = await server.app.inject({
      method: 'POST',
      url: `/.well-known/%FF?client_secret=${secret}`,
    });
    expectJsonError({ status: answer.statusCode, headers: answer.headers, body: answer.body }, 400);
  });

  it('a too-long path parameter: the HTML error page without the parameter', async () => {
    const answer = await server.app.inject({ url: `/interaction/${'a'.repeat(300)}?password=${secret}` });
    expectErrorPage({ status: answer.statusCode, headers: answer.headers, body: answer.body }, 414);
  });

  it('a body too large: JSON at /token, the HTML page at the login form', async () => {
    const body = `password=${secret}&x=${'a'.repeat(70_000)}`;
    const token = await helpers.postRaw(
      server,
      '/token',
      { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    );
    expectJsonError({ status: token.statusCode, headers: token.headers, body: token.body }, 413);
    const login = await helpers.postRaw(
      server,
      '/interaction/abc/login',
      { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    );
    expectErrorPage({ status: login.statusCode, headers: login.headers, body: login.body }, 413);
  });

  it('a body of another media type: 415, JSON at /token, the HTML page at /device', async () => {
    const token = await helpers.postRaw(
      server,
      '/token',
      { 'content-type': 'application/json' },
      `{"p":"${secret}"}`,
    );
    expectJsonError({ status: token.statusCode, headers: token.headers, body: token.body }, 415);
    const device = await helpers.postRaw(server, '/device', { 'content-type': 'text/plain' }, secret);
    expectErrorPage({ status: device.statusCode, headers: device.headers, body: device.body }, 415);
  });
});

describe('client errors on the raw socket', () => {
  it('headers too large: 431, JSON for an API endpoint, the page for /authorize, no URL echoed', async () => {
    const big = `X-Big: ${'a'.repeat(20_000)}\r\n`;
    const api = parseRaw(
      await rawExchange(port, `GET /jwks?client_secret=${secret} HTTP/1.1\r\nHost: x\r\n${big}\r\n`),
    );
    expectJsonError(api, 431);
    const page = parseRaw(
      await rawExchange(port, `GET /authorize?password=${secret} HTTP/1.1\r\nHost: x\r\n${big}\r\n`),
    );
    expectErrorPage(page, 431);
  });

  it('a malformed request (bad header, bad method): 400 in the same shapes', async () => {
    const badHeader = parseRaw(
      await rawExchange(port, `GET /token?password=${secret} HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n`),
    );
    expectJsonError(badHeader, 400);
    const badMethod = parseRaw(
      await rawExchange(port, `G@T /device?password=${secret} HTTP/1.1\r\nHost: x\r\n\r\n`),
    );
    expectErrorPage(badMethod, 400);
  });

  it('bad percent-encoding over a real socket: the page, with a request id found in the log', async () => {
    const answer = parseRaw(
      await rawExchange(
        port,
        `GET /interaction/%FF/login?password=${secret} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      ),
    );
    expectErrorPage(answer, 400);
    const requestId = errorPageParts(answer.body).requestId!;
    expect(log.lines.some((line) => line.includes(requestId))).toBe(true);
    expect(log.lines.join('\n')).not.toContain(secret);
  });
});

describe('the HTML error page', () => {
  it('links back to the client when the error follows a verified interaction, escaping what it shows', async () => {
    const browser = new helpers.Browser(server);
    const started = await browser.get(helpers.codeRequest(helpers.pkcePair()));
    const interaction = started.headers.location as string;
    const login = helpers.formOf((await browser.get(interaction)).body);
    // A form whose CSRF token does not match: the interaction is known, so is the client's site.
    const answer = await browser.post(login.action, { csrf: 'wrong', username: 'alice', password: secret });
    expect(answer.statusCode).toBe(400);
    const page = errorPageParts(answer.body);
    expect(page.code).toBe('invalid_request');
    expect(page.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(page.back).toBe('https://webapp.example.com/');
    expect(answer.body).not.toContain(secret);
  });

  it('links to the issuer for an unknown client and escapes the description', async () => {
    const answer = await server.app.inject({
      url: `/authorize?response_type=code&client_id=${encodeURIComponent('<b>x</b>')}&scope=openid`,
    });
    expect(answer.statusCode).toBe(400);
    expect(answer.body).not.toContain('<b>');
    expect(errorPageParts(answer.body).back).toBe(`${helpers.issuer}/`);
  });
});
