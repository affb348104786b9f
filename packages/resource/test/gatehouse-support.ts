/**
 * Support for the tests against the real Gatehouse server on a loopback port: access tokens from its
 * token endpoint, for a client (client credentials) and for a user (the code flow with PKCE, signed in
 * through the server's own pages).
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { password } from '../../server/test/helpers.ts';
import {
  FetchBrowser,
  fetchClientCredentials,
  type ListeningServer,
  startListening,
} from '../../server/test/interop-helpers.ts';
import { redeemWebAppCode, webAppAuthorization } from '../../server/test/upstream-helpers.ts';
import type { VerifierOptions } from '../src/index.ts';
import { apiOptions, startExpressApi, type TestApi } from './support.ts';

/**
 * Gatehouse on a loopback port (the server's test configuration with `overrides`) and an Express API that
 * verifies its tokens with `options(issuer)`, started before and closed after the calling block's tests.
 */
export function useGatehouseWithApi(
  overrides: Record<string, unknown> = {},
  options: (issuer: string) => VerifierOptions = (issuer) => apiOptions(issuer),
): { readonly issuer: string; readonly api: TestApi } {
  let server: ListeningServer | undefined;
  let api: TestApi | undefined;
  beforeAll(async () => {
    server = await startListening(overrides);
    api = await startExpressApi(options(server.issuer));
  });
  afterAll(async () => {
    await api?.close();
    await server?.close();
  });
  return {
    get issuer() {
      if (server === undefined) throw new Error('Gatehouse runs only while the tests run');
      return server.issuer;
    },
    get api() {
      if (api === undefined) throw new Error('the API runs only while the tests run');
      return api;
    },
  };
}

/** A client-credentials access token of `service-a` for `orders.read`. */
export async function clientCredentialsToken(issuer: string): Promise<string> {
  const response = await fetchClientCredentials(issuer);
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** An access token of `web-app` for `username` (the seed's password) with `scope`, by the code flow. */
export async function userToken(
  issuer: string,
  scope: string,
  username = 'alice',
  more: { extra?: Record<string, string>; secondFactor?: (html: string) => Record<string, string> } = {},
): Promise<string> {
  const { pkce, url } = webAppAuthorization(issuer, { scope, state: 'state-1', ...more.extra });
  const { location } = await new FetchBrowser(issuer).walk(url, {
    user: { username, password },
    ...(more.secondFactor === undefined ? {} : { secondFactor: more.secondFactor }),
  });
  const code = new URL(location).searchParams.get('code');
  expect(code).toBeTruthy();
  return (await redeemWebAppCode(issuer, code!, pkce.verifier)).access_token;
}
