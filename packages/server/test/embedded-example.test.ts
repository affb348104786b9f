/**
 * examples/embedded, run as a user would: the application's own node:http server with Gatehouse under
 * /auth, its staff table as the account store; openid-client signs in through it (discovery, login page,
 * code grant with PKCE, ID token checks, userinfo).
 */
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortal, type Portal } from '../../../examples/embedded/src/app.ts';
import { authorizationParameters, FetchBrowser, freePort } from './interop-helpers.ts';

const clientSecret = 'portal-web-test-secret-0123456789-abcdefghij';
let portal: Portal;
let origin: string;

beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  portal = await createPortal({
    origin,
    dataDir: mkdtempSync(join(tmpdir(), 'gatehouse-embedded-')),
    clientSecret,
    logLevel: 'silent',
  });
  await new Promise<void>((resolve) => portal.server.listen(port, '127.0.0.1', resolve));
  expect((portal.server.address() as AddressInfo).port).toBe(port);
});
afterAll(async () => {
  await portal?.close();
});

async function signIn(username: string, password: string) {
  const configuration = await client.discovery(
    new URL(portal.issuer),
    'portal-web',
    clientSecret,
    client.ClientSecretBasic(clientSecret),
    { execute: [client.allowInsecureRequests] },
  );
  const { verifier, state, nonce, parameters } = await authorizationParameters(
    `${origin}/signin-oidc`,
    'openid profile email roles orders.read',
  );
  const browser = new FetchBrowser(portal.issuer);
  const { location } = await browser.walk(client.buildAuthorizationUrl(configuration, parameters), {
    user: { username, password },
  });
  const tokens = await client.authorizationCodeGrant(configuration, new URL(location), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  return { configuration, tokens };
}

describe('examples/embedded', () => {
  it('serves its own pages beside Gatehouse', async () => {
    expect(await (await fetch(`${origin}/`)).text()).toContain('Orders portal');
    expect((await fetch(`${origin}/elsewhere`)).status).toBe(404);
  });

  it('signs a staff member in for openid-client and answers userinfo from the staff table', async () => {
    const { configuration, tokens } = await signIn('grace', 'grace-demo-password');
    expect(tokens.claims()?.iss).toBe(`${origin}/auth`);
    expect(tokens.claims()?.sub).toBe('staff-1906');
    const access = decodeJwt(tokens.access_token);
    expect(access.aud).toBe('orders-api');
    expect(access.roles).toEqual(['OrderAdmin']);
    // Configured (email, scp) and computed (the claims hook: department, employee number) claims.
    expect(access).toMatchObject({
      email: 'grace@orders.example',
      scp: expect.arrayContaining(['orders.read']),
      department: 'Sales',
      employee_number: 1906,
    });
    const info = await client.fetchUserInfo(configuration, tokens.access_token, 'staff-1906');
    expect(info).toMatchObject({
      name: 'Grace Hopper',
      email: 'grace@orders.example',
      roles: ['OrderAdmin'],
    });
  });

  it("shows the portal's theme and its own sign-in page, in the user's language", async () => {
    const start = new URL(`${portal.issuer}/authorize`);
    for (const [name, value] of Object.entries({
      client_id: 'portal-web',
      response_type: 'code',
      redirect_uri: `${origin}/signin-oidc`,
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ui_locales: 'de',
    }))
      start.searchParams.set(name, value);
    const browser = new FetchBrowser(portal.issuer);
    const redirect = await browser.get(String(start));
    const login = await browser.get(redirect.headers.get('location')!);
    const html = await login.text();
    expect(html).toContain('<html lang="de">');
    expect(html).toContain('Orders Portal');
    expect(html).toContain('Nur für Mitarbeitende');
    expect(html).toContain(`${portal.issuer}/ui/logo`);
    expect(html).toContain('#0b6e4f');
    // The CSP allows the portal's stylesheet by its URL and nothing that runs.
    const csp = login.headers.get('content-security-policy') ?? '';
    expect(csp).toContain(`${portal.issuer}/ui/theme.css`);
    expect(csp).not.toContain('script-src');
    const logo = await fetch(`${portal.issuer}/ui/logo`);
    expect(logo.headers.get('content-type')).toContain('image/svg+xml');
    const css = await fetch(`${portal.issuer}/ui/theme.css`);
    expect(await css.text()).toContain('.staff-notice');
  });

  it('stops a staff member the application deactivates, at the next userinfo and sign-in', async () => {
    await portal.staff.add({
      login: 'alan',
      password: 'alan-test-password',
      fullName: 'Alan Turing',
      email: 'alan@orders.example',
      department: 'Research',
      employeeNumber: 1912,
    });
    const { configuration, tokens } = await signIn('alan', 'alan-test-password');
    portal.staff.setActive('alan', false);
    await expect(client.fetchUserInfo(configuration, tokens.access_token, 'staff-1912')).rejects.toThrow();
    await expect(signIn('alan', 'alan-test-password')).rejects.toThrow(/403/);
  });
});
