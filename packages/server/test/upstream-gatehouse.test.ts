/**
 * A second Gatehouse as the upstream provider, over real HTTP on loopback ports (sessions/upstream.ts,
 * sessions/upstream-link.ts): sign-in with just-in-time provisioning; the upstream's own MFA (a TOTP
 * enrolled there) meeting a local MFA policy only at a provider entry trusted for it, a local second
 * factor otherwise with `fed` kept in amr; and linking an upstream account to a local one offered for the
 * e-mail address the upstream verified, after the local password.
 */
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/authn/totp.ts';
import { formOf, password, testClients, webRedirect } from './helpers.ts';
import { FetchBrowser, freePort, type ListeningServer, startListening } from './interop-helpers.ts';
import { redeemWebAppCode, webAppAuthorization } from './upstream-helpers.ts';

const secret = 'downstream-at-upstream-secret-0123456789-abcdef';

let upstream: ListeningServer;
let gatehouse: ListeningServer;
let mfaAcr = '';

beforeAll(async () => {
  const port = await freePort();
  const here = `http://127.0.0.1:${port}`;
  const registration = (clientId: string, ids: string[], extra: Record<string, unknown> = {}) => ({
    clientId,
    name: `Downstream Gatehouse (${clientId})`,
    secret,
    grantTypes: ['authorization_code'],
    redirectUris: ids.map((id) => `${here}/upstream/${id}/callback`),
    scopes: ['openid', 'profile', 'email'],
    requireConsent: false,
    ...extra,
  });
  const user = (username: string, claims: Record<string, unknown> = {}) => ({ username, password, claims });
  upstream = await startListening({
    clients: [
      ...testClients(),
      registration('downstream', ['gh', 'gh-link']),
      // The upstream asks every sign-in of this client for a second factor.
      registration('downstream-mfa', ['gh-mfa', 'gh-mfa-untrusted'], { requireMfa: true }),
    ],
    users: [
      user('alice', { name: 'Alice Upstream', email: 'alice@example.com', email_verified: true }),
      user('carol', { name: 'Carol Upstream' }),
      user('dave'),
      user('erin'),
    ],
  });
  const entry = (id: string, clientId: string, extra: Record<string, unknown> = {}) => ({
    id,
    name: `Upstream ${id}`,
    type: 'oidc',
    issuer: upstream.issuer,
    clientId,
    clientSecret: secret,
    provisioning: 'jit',
    allowPrivateAddresses: true,
    ...extra,
  });
  gatehouse = await startListening(
    {
      upstreams: [
        entry('gh', 'downstream'),
        entry('gh-mfa', 'downstream-mfa', { trustedForMfa: true }),
        entry('gh-mfa-untrusted', 'downstream-mfa'),
        entry('gh-link', 'downstream', { provisioning: 'existing-only', trustedForEmail: true }),
      ],
      clients: testClients({
        'web-app': { upstreams: ['gh', 'gh-mfa', 'gh-mfa-untrusted', 'gh-link'], requireConsent: false },
      }),
    },
    port,
  );
  mfaAcr = gatehouse.config.mfa.acrValues.mfa;
});

afterAll(async () => {
  await gatehouse?.close();
  await upstream?.close();
});

/** The enrolment page's TOTP code (the secret it shows), at this moment; both servers use the real clock. */
function enrolmentCode(html: string): Record<string, string> {
  const shown = /<code id="totp-secret">([^<]+)<\/code>/.exec(html)?.[1]?.replace(/\s/g, '');
  if (shown === undefined) throw new Error('not an enrolment page');
  return { code: totpCode(shown, Math.floor(Date.now() / 1000)) };
}

/** Starts web-app's authorization here with `idp` (no chooser); returns the browser and where it is sent. */
async function startHere(idp: string, extra: Record<string, string> = {}) {
  const here = new FetchBrowser(gatehouse.issuer);
  const { pkce, url: authorize } = webAppAuthorization(gatehouse.issuer, { idp, ...extra });
  const toUpstream = await here.walk(authorize);
  expect(toUpstream.location.startsWith(`${upstream.issuer}/authorize?`)).toBe(true);
  return { here, pkce, toUpstream: toUpstream.location };
}

/** Signs `username` in at the upstream (enrolling a TOTP there when asked); returns our callback URL. */
async function signInUpstream(location: string, username: string) {
  const there = new FetchBrowser(upstream.issuer);
  const back = await there.walk(location, { user: { username, password }, secondFactor: enrolmentCode });
  expect(back.location).toMatch(new RegExp(`^${gatehouse.issuer}/upstream/[a-z-]+/callback\\?`));
  return back;
}

/** Redeems web-app's code here; returns the decoded ID token. */
async function idTokenFor(location: string, verifier: string) {
  const code = new URL(location).searchParams.get('code');
  expect(code).toBeTypeOf('string');
  return decodeJwt((await redeemWebAppCode(gatehouse.issuer, code!, verifier)).id_token);
}

/** The live session here of `browser`. */
async function sessionHere(browser: FetchBrowser) {
  const value = browser.cookies.get('__Host-gh-session') ?? '';
  return gatehouse.ctx.storage.sessions.findActive(
    createHash('sha256').update(value).digest('base64url'),
    gatehouse.ctx.now(),
  );
}

describe('a second Gatehouse as the upstream', () => {
  it('signs in with just-in-time provisioning: the upstream profile, amr fed, its acr kept', async () => {
    const { here, pkce, toUpstream } = await startHere('gh');
    const back = await signInUpstream(toUpstream, 'carol');
    const done = await here.walk(back.location);
    expect(done.pages).toEqual([]);
    const session = await sessionHere(here);
    expect(session?.upstream).toEqual({
      id: 'gh',
      amr: ['pwd'],
      acr: upstream.config.mfa.acrValues.pwd,
    });
    const idToken = await idTokenFor(done.location, pkce.verifier);
    expect(idToken.amr).toEqual(['fed']);
    const account = await gatehouse.ctx.accounts.findBySubject(idToken.sub!);
    expect(account?.username).toBe('gh:carol');
    const user = await gatehouse.ctx.storage.users.findById(idToken.sub!);
    expect(user?.claims).toMatchObject({ name: 'Carol Upstream' });
  });

  it("lets the upstream's MFA meet a local MFA policy at an entry trusted for it", async () => {
    const { here, pkce, toUpstream } = await startHere('gh-mfa', { acr_values: mfaAcr });
    const back = await signInUpstream(toUpstream, 'dave');
    const done = await here.walk(back.location);
    // No second factor asked here: the upstream's counted.
    expect(done.pages).toEqual([]);
    const idToken = await idTokenFor(done.location, pkce.verifier);
    expect(idToken.amr).toEqual(['fed', 'pwd', 'otp', 'mfa']);
    expect(idToken.acr).toBe(mfaAcr);
  });

  it('asks for a local second factor after the same upstream MFA at an untrusted entry, keeping fed', async () => {
    const { here, pkce, toUpstream } = await startHere('gh-mfa-untrusted', { acr_values: mfaAcr });
    const back = await signInUpstream(toUpstream, 'erin');
    const done = await here.walk(back.location, { secondFactor: enrolmentCode });
    expect(done.pages).toContain('second-factor');
    const session = await sessionHere(here);
    expect(session?.upstream?.amr).toEqual(['pwd', 'otp', 'mfa']);
    const idToken = await idTokenFor(done.location, pkce.verifier);
    expect(idToken.amr).toEqual(['fed', 'otp', 'mfa']);
    expect(idToken.acr).toBe(mfaAcr);
  });

  it('offers the local account of the verified e-mail address and links it after its password', async () => {
    const { here, pkce, toUpstream } = await startHere('gh-link');
    const back = await signInUpstream(toUpstream, 'alice');
    const toLink = await here.get(back.location);
    expect(toLink.status).toBe(303);
    const linkUrl = toLink.headers.get('location')!;
    expect(linkUrl).toMatch(/\/link$/);
    const page = await (await here.get(linkUrl)).text();
    expect(/id="username"[^>]*value="alice"/.test(page)).toBe(true);
    const form = formOf(page);
    const linked = await here.post(form.action, { csrf: form.csrf, username: 'alice', password });
    expect(linked.status).toBe(303);
    // Nothing left to ask (no consent, no second factor): straight back to web-app with the code.
    const location = linked.headers.get('location')!;
    expect(location.startsWith(webRedirect)).toBe(true);
    const idToken = await idTokenFor(location, pkce.verifier);
    const alice = await gatehouse.ctx.accounts.findByUsername('alice');
    expect(idToken.sub).toBe(alice?.subject);
    expect(idToken.amr).toEqual(['fed', 'pwd']);
  });
});
