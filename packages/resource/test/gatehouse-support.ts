/**
 * Support for the tests against the real Gatehouse server on a loopback port: access tokens from its
 * token endpoint, for a client (client credentials) and for a user (the code flow with PKCE, signed in
 * through the server's own pages).
 */
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { basic, password, serviceSecret, webRedirect, webSecret } from '../../server/test/helpers.ts';
import { FetchBrowser } from '../../server/test/interop-helpers.ts';

/** POSTs a form; the status and the JSON body. */
export async function postForm(url: string, values: Record<string, string>, authorization: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams(values),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A client-credentials access token of `service-a` for `orders.read`. */
export async function clientCredentialsToken(issuer: string): Promise<string> {
  const response = await postForm(
    `${issuer}/token`,
    { grant_type: 'client_credentials', scope: 'orders.read' },
    basic('service-a', serviceSecret),
  );
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}

/** An access token of `web-app` for `username` (the seed's password) with `scope`, by the code flow. */
export async function userToken(
  issuer: string,
  scope: string,
  username = 'alice',
  more: { extra?: Record<string, string>; secondFactor?: (html: string) => Record<string, string> } = {},
): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: 'web-app',
    redirect_uri: webRedirect,
    scope,
    state: 'state-1',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...more.extra,
  }).toString();
  const { location } = await new FetchBrowser(issuer).walk(url, {
    user: { username, password },
    ...(more.secondFactor === undefined ? {} : { secondFactor: more.secondFactor }),
  });
  const code = new URL(location).searchParams.get('code');
  expect(code).toBeTruthy();
  const response = await postForm(
    `${issuer}/token`,
    { grant_type: 'authorization_code', code: code!, redirect_uri: webRedirect, code_verifier: verifier },
    basic('web-app', webSecret),
  );
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}
