/**
 * Request objects (OpenID Connect Core §6): discovery says `request_parameter_supported` and
 * `request_uri_parameter_supported` are false, and /authorize behaves exactly so: `request` is
 * request_not_supported (§6.1), a request_uri that /par did not issue is request_uri_not_supported (§6.2),
 * both sent back to a verified redirect URI, shown on the error page otherwise. A request_uri from /par
 * (RFC 9126) is still honoured, and one that looks like ours but is unknown stays invalid_request_uri.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import * as helpers from './helpers.ts';

const server = helpers.useServer();
const pkce = helpers.pkcePair();
const requestObject = 'eyJhbGciOiJub25lIn0.eyJpc3MiOiJ3ZWItYXBwIn0.';
const remoteRequestUri = 'https://webapp.example.com/request.jwt';

function params(extra: Record<string, string | undefined>) {
  return helpers.codeParams(pkce, { scope: 'openid', state: 'st-ro', extra });
}

function expectRedirectedError(response: LightMyRequestResponse, error: string): void {
  expect(response.statusCode).toBe(303);
  const location = new URL(response.headers.location as string);
  expect(location.href.split('?')[0]).toBe(helpers.webRedirect);
  expect(location.searchParams.get('error')).toBe(error);
  expect(location.searchParams.get('state')).toBe('st-ro');
  expect(location.searchParams.get('iss')).toBe(helpers.issuer);
}

function expectErrorPage(response: LightMyRequestResponse, text: string): void {
  expect(response.statusCode).toBe(400);
  expect(response.headers.location).toBeUndefined();
  expect(response.headers['content-type']).toMatch(/^text\/html/);
  expect(response.body).toContain(text);
}

describe('request objects', () => {
  it('are advertised as unsupported', async () => {
    const metadata = (await server.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(metadata.request_parameter_supported).toBe(false);
    expect(metadata.request_uri_parameter_supported).toBe(false);
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${helpers.issuer}/par`);
  });

  it('by value: request_not_supported, over GET and POST', async () => {
    const browser = new helpers.Browser(server);
    expectRedirectedError(
      await browser.get(helpers.authorizeUrl(params({ request: requestObject }))),
      'request_not_supported',
    );
    expectRedirectedError(
      await browser.post('/authorize', params({ request: requestObject })),
      'request_not_supported',
    );
  });

  it('by reference: request_uri_not_supported for any request_uri that /par did not issue', async () => {
    for (const requestUri of [remoteRequestUri, 'urn:example:request', 'data:,x']) {
      expectRedirectedError(
        await new helpers.Browser(server).get(helpers.authorizeUrl(params({ request_uri: requestUri }))),
        'request_uri_not_supported',
      );
    }
  });

  it('named on the error page when the redirect URI cannot be verified', async () => {
    const onlyClient = (extra: Record<string, string>) =>
      `/authorize?${helpers.form({ client_id: 'web-app', ...extra })}`;
    expectErrorPage(
      await new helpers.Browser(server).get(onlyClient({ request_uri: remoteRequestUri })),
      'request_uri is supported only for requests pushed to the PAR endpoint',
    );
    expectErrorPage(
      await new helpers.Browser(server).get(onlyClient({ request: requestObject, response_type: 'code' })),
      'the request parameter (request objects) is not supported',
    );
  });

  it('at /par: request_not_supported as JSON', async () => {
    const response = await helpers.postForm(server, '/par', params({ request: requestObject }), {
      authorization: helpers.webAppAuth,
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('request_not_supported');
  });

  it('a request_uri from /par is honoured; an unknown one of that form is invalid_request_uri', async () => {
    const pushed = await helpers.postForm(server, '/par', params({}), { authorization: helpers.webAppAuth });
    expect(pushed.status).toBe(201);
    const viaPar = await new helpers.Browser(server).get(
      `/authorize?${helpers.form({ client_id: 'web-app', request_uri: pushed.body.request_uri as string })}`,
    );
    expect(viaPar.statusCode).toBe(303);
    expect(viaPar.headers.location).toMatch(new RegExp(`^${helpers.issuer}/interaction/`));

    expectErrorPage(
      await new helpers.Browser(server).get(
        `/authorize?${helpers.form({ client_id: 'web-app', request_uri: 'urn:ietf:params:oauth:request_uri:unknown' })}`,
      ),
      'request_uri is unknown, expired, already used or was pushed by another client',
    );
  });
});
