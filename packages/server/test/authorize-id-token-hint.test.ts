/**
 * `id_token_hint` at /authorize (OpenID Connect Core §3.1.2.1): two users, real session cookies. A session
 * of another user than the hinted one never answers the request: `prompt=none` gets login_required, and
 * otherwise the login page is shown and only the hinted user may finish it. The hint must be an ID token
 * this server issued to the client (expired is fine); anything else is invalid_request.
 */

import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import * as helpers from './helpers.ts';

const server = helpers.useServer();
const pkce = helpers.pkcePair();
const scope = 'openid profile';

/** A browser signed in as `username` (web-app, consent given), and the ID token it was issued. */
async function signedIn(
  username: string,
): Promise<{ browser: helpers.Browser; idToken: string; sub: string }> {
  const browser = new helpers.Browser(server);
  const redirect = await helpers.authorizeThroughLogin(browser, helpers.codeRequest(pkce, { scope }), {
    username,
    password: helpers.password,
  });
  const tokens = await redeem(redirect);
  const idToken = tokens.body.id_token as string;
  return { browser, idToken, sub: decodeJwt(idToken).sub as string };
}

function redeem(redirect: URL) {
  return helpers.redeemCode(server, redirect.searchParams.get('code') ?? '', pkce.verifier);
}

function hinted(idTokenHint: string, extra: Record<string, string> = {}): string {
  return helpers.codeRequest(pkce, { scope, state: 'st-h', extra: { id_token_hint: idTokenHint, ...extra } });
}

function redirectOf(response: LightMyRequestResponse): URL {
  expect(response.statusCode).toBe(303);
  return new URL(response.headers.location as string);
}

function expectError(response: LightMyRequestResponse, error: string): void {
  const location = redirectOf(response);
  expect(location.href.split('?')[0]).toBe(helpers.webRedirect);
  expect(location.searchParams.get('error')).toBe(error);
  expect(location.searchParams.get('state')).toBe('st-h');
  expect(location.searchParams.has('code')).toBe(false);
}

let alice: Awaited<ReturnType<typeof signedIn>>;
let bob: Awaited<ReturnType<typeof signedIn>>;
beforeAll(async () => {
  alice = await signedIn('alice');
  bob = await signedIn('bob');
  expect(alice.sub).not.toBe(bob.sub);
});

describe('id_token_hint at /authorize', () => {
  it("answers login_required to prompt=none with another user's hint, a code with the session user's", async () => {
    expectError(await alice.browser.get(hinted(bob.idToken, { prompt: 'none' })), 'login_required');

    const own = redirectOf(await alice.browser.get(hinted(alice.idToken, { prompt: 'none' })));
    const tokens = await redeem(own);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string).sub).toBe(alice.sub);
  });

  it("shows the login page for another user's hint and lets only the hinted user finish it", async () => {
    const response = await alice.browser.get(hinted(bob.idToken));
    const interaction = redirectOf(response).href;
    expect(interaction).toMatch(new RegExp(`^${helpers.issuer}/interaction/`));
    const page = await alice.browser.get(interaction);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="password"');

    /** Signs in as `username` on the login form of `html`, in alice's browser. */
    const signInOn = (html: string, username: string) => {
      const login = helpers.formOf(html);
      return alice.browser.post(login.action, { csrf: login.csrf, username, password: helpers.password });
    };
    const asAlice = await signInOn(page.body, 'alice');
    expect(asAlice.statusCode).toBe(400);
    expect(asAlice.headers.location).toBeUndefined();
    expect(asAlice.body).toContain('The application asked for another account');

    const asBob = await signInOn(asAlice.body, 'bob');
    const redirect = redirectOf(asBob);
    expect(redirect.searchParams.get('state')).toBe('st-h');
    const tokens = await redeem(redirect);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string).sub).toBe(bob.sub);
  });

  it('accepts an expired hint (Core §3.1.2.1)', async () => {
    const fresh = await signedIn('alice');
    server.clock.advance(3600 + 60);
    try {
      expect(decodeJwt(fresh.idToken).exp).toBeLessThan(server.clock());
      const redirect = redirectOf(await fresh.browser.get(hinted(fresh.idToken, { prompt: 'none' })));
      expect(redirect.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      server.clock.advance(-(3600 + 60));
    }
  });

  it('refuses a hint this server did not issue to the client with invalid_request', async () => {
    const { browser, idToken, sub } = await signedIn('alice');
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ sub, aud: 'web-app' })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'elsewhere' })
      .setIssuer(helpers.issuer)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    const again = redirectOf(await browser.get(helpers.codeRequest(pkce, { scope })));
    const accessToken = (await redeem(again)).body.access_token as string;
    const otherClient = await postAppIdToken(browser);
    for (const hint of [foreign, helpers.tamperSignature(idToken), accessToken, 'not-a-jwt', otherClient]) {
      expectError(await browser.get(hinted(hint, { prompt: 'none' })), 'invalid_request');
      expectError(await browser.get(hinted(hint)), 'invalid_request');
    }
    // The same browser's own hint still works: the refusals were about the hints.
    expect(redirectOf(await browser.get(hinted(idToken, { prompt: 'none' }))).searchParams.has('code')).toBe(
      true,
    );
  });
});

/** An ID token for the browser's user issued to another client (post-app, which needs no consent). */
async function postAppIdToken(browser: helpers.Browser): Promise<string> {
  const postPkce = helpers.pkcePair();
  const redirect = redirectOf(
    await browser.get(
      helpers.codeRequest(postPkce, {
        clientId: 'post-app',
        redirectUri: 'https://post.example.com/cb',
        scope: 'openid',
      }),
    ),
  );
  const tokens = await helpers.postForm(server, '/token', {
    grant_type: 'authorization_code',
    client_id: 'post-app',
    client_secret: helpers.webSecret,
    code: redirect.searchParams.get('code') ?? '',
    redirect_uri: 'https://post.example.com/cb',
    code_verifier: postPkce.verifier,
  });
  expect(tokens.status).toBe(200);
  return tokens.body.id_token as string;
}
