/**
 * Logout with an upstream provider (sessions/upstream-logout.ts), all over real HTTP on loopback ports: a
 * second Gatehouse is the upstream, with this Gatehouse registered there as a client with a back-channel
 * logout URI and a post-logout redirect URI. Signing out at the upstream ends the local session and our
 * own back-channel logout reaches web-app's receiver; RP-initiated logout here continues at the upstream's
 * end_session_endpoint and comes back to the client's post-logout URI; forged, malformed and replayed
 * logout tokens are refused with 400 and end nothing. oidc-provider as the upstream: its logout tokens,
 * sent when the user signs out there, end the local session too.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RunningProvider,
  startProvider,
  walkProvider,
} from '../../client/test/support/oidc-provider.ts';
import { signJwt } from '../src/tokens/jwt.ts';
import { formOf, password, postForm, startServer, tamperSignature, testClients } from './helpers.ts';
import { FetchBrowser, freePort, type ListeningServer, Receiver, startListening } from './interop-helpers.ts';
import { redeemWebAppCode, webAppAuthorization } from './upstream-helpers.ts';

const downstreamSecret = 'downstream-at-upstream-secret-0123456789-abcdef';
const signedOut = 'https://webapp.example.com/signed-out';
const backchannelEvent = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * This Gatehouse on `port`, with one OpenID Connect upstream (JIT provisioning, loopback allowed) offered
 * by web-app, which asks for no consent; `webApp` adds to web-app's settings.
 */
function listeningWithUpstream(
  port: number,
  upstream: Record<string, unknown>,
  webApp: Record<string, unknown>,
): Promise<ListeningServer> {
  return startListening(
    {
      upstreams: [
        {
          name: 'Upstream',
          type: 'oidc',
          scopes: ['openid', 'profile'],
          provisioning: 'jit',
          allowPrivateAddresses: true,
          ...upstream,
        },
      ],
      clients: testClients({ 'web-app': { upstreams: [upstream.id], requireConsent: false, ...webApp } }),
    },
    port,
  );
}

let receiver: Receiver;
let upstream: ListeningServer;
let gatehouse: ListeningServer;

beforeAll(async () => {
  receiver = await new Receiver((_index, received) => received.response.writeHead(200).end()).start();
  const port = await freePort();
  const here = `http://127.0.0.1:${port}`;
  upstream = await startListening({
    clients: [
      ...testClients(),
      {
        clientId: 'downstream',
        name: 'Downstream Gatehouse',
        secret: downstreamSecret,
        grantTypes: ['authorization_code'],
        redirectUris: [`${here}/upstream/corp/callback`],
        postLogoutRedirectUris: [`${here}/upstream/corp/logged-out`],
        backchannelLogoutUri: `${here}/upstream/corp/backchannel-logout`,
        scopes: ['openid', 'profile'],
        requireConsent: false,
      },
    ],
  });
  gatehouse = await listeningWithUpstream(
    port,
    {
      id: 'corp',
      issuer: upstream.issuer,
      clientId: 'downstream',
      clientSecret: downstreamSecret,
      logout: { endUpstreamSession: true },
    },
    { backchannelLogoutUri: `${receiver.url}/bc`, postLogoutRedirectUris: [signedOut] },
  );
});

afterAll(async () => {
  await gatehouse?.close();
  await upstream?.close();
  await receiver?.close();
});

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** The live local session of a browser signed in here, or undefined. */
async function liveSession(browser: FetchBrowser) {
  const value = browser.cookies.get('__Host-gh-session');
  if (value === undefined) return undefined;
  return gatehouse.ctx.storage.sessions.findActive(sha256(value), gatehouse.ctx.now());
}

/**
 * Signs alice in to web-app here through the upstream (`idp=corp` skips the chooser) and redeems the code:
 * the browsers here and at the upstream, the local session, and web-app's ID token.
 */
async function signInThroughUpstream() {
  const here = new FetchBrowser(gatehouse.issuer);
  const there = new FetchBrowser(upstream.issuer);
  const { pkce, url: authorize } = webAppAuthorization(gatehouse.issuer, {
    state: 'client-state',
    nonce: 'client-nonce',
    idp: 'corp',
  });
  const toUpstream = await here.walk(authorize);
  expect(toUpstream.location.startsWith(`${upstream.issuer}/authorize?`)).toBe(true);
  const back = await there.walk(toUpstream.location, { user: { username: 'alice', password } });
  expect(back.location.startsWith(`${gatehouse.issuer}/upstream/corp/callback?`)).toBe(true);
  const done = await here.walk(back.location);
  const code = new URL(done.location).searchParams.get('code');
  expect(code).toBeTypeOf('string');
  const tokens = await redeemWebAppCode(gatehouse.issuer, code!, pkce.verifier);
  const session = await liveSession(here);
  expect(session).toBeDefined();
  return { here, there, session: session!, idToken: tokens.id_token };
}

/** The logout tokens web-app's receiver got for local session `sid`, verified with this Gatehouse's JWKS. */
async function deliveredFor(sid: string) {
  const keys = createLocalJWKSet((await (await fetch(`${gatehouse.issuer}/jwks`)).json()) as JSONWebKeySet);
  const found = [];
  for (const received of receiver.received) {
    const token = received.body.get('logout_token') ?? '';
    if (decodeJwt(token).sid !== sid) continue;
    found.push((await jwtVerify(token, keys, { issuer: gatehouse.issuer, audience: 'web-app' })).payload);
  }
  return found;
}

describe('logout at the upstream ends the local session (Back-Channel Logout 1.0)', () => {
  it("ends the session the upstream's logout token names, and sends our own logout token to web-app", async () => {
    const { here, there, session } = await signInThroughUpstream();
    const recorded = await gatehouse.ctx.storage.upstreamSessions.find(session.sid, gatehouse.ctx.now());
    expect(recorded).toMatchObject({ upstreamId: 'corp', upstreamSubject: expect.any(String) });
    expect(recorded?.upstreamSid).toBeTypeOf('string');
    const before = receiver.received.length;

    // alice signs out at the upstream (its confirmation page: no id_token_hint was given).
    const confirm = await there.get(`${upstream.issuer}/end_session`);
    expect(confirm.status).toBe(200);
    const form = formOf(await confirm.text());
    const signedOutThere = await there.post(form.action, { csrf: form.csrf });
    expect(signedOutThere.status).toBe(200);

    // The upstream's back-channel POST to us ends the local session, which sends ours onward.
    await receiver.requests(before + 1);
    expect(await liveSession(here)).toBeUndefined();
    const delivered = await deliveredFor(session.sid);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({
      sub: session.userId,
      sid: session.sid,
      events: { [backchannelEvent]: {} },
    });
    expect(delivered[0]!.nonce).toBeUndefined();
  });
});

describe('RP-initiated logout continues at the upstream', () => {
  it("redirects to the upstream's end_session_endpoint with its ID token, then back to the client's post-logout URI", async () => {
    const { here, there, session, idToken } = await signInThroughUpstream();
    const recorded = await gatehouse.ctx.storage.upstreamSessions.find(session.sid, gatehouse.ctx.now());
    const logout = new URL(`${gatehouse.issuer}/end_session`);
    logout.search = new URLSearchParams({
      id_token_hint: idToken,
      post_logout_redirect_uri: signedOut,
      state: 'rp-state',
    }).toString();
    const first = await here.get(logout.href);
    expect(first.status).toBe(303);
    expect(await liveSession(here)).toBeUndefined();
    const atUpstream = new URL(first.headers.get('location')!);
    expect(`${atUpstream.origin}${atUpstream.pathname}`).toBe(`${upstream.issuer}/end_session`);
    expect(atUpstream.searchParams.get('client_id')).toBe('downstream');
    expect(atUpstream.searchParams.get('post_logout_redirect_uri')).toBe(
      `${gatehouse.issuer}/upstream/corp/logged-out`,
    );
    const hint = decodeJwt(atUpstream.searchParams.get('id_token_hint')!);
    expect(hint).toMatchObject({ iss: upstream.issuer, aud: 'downstream', sub: recorded!.upstreamSubject });
    const state = atUpstream.searchParams.get('state');
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The hint names the upstream session: it ends at once and sends the browser back here.
    const upstreamSession = there.cookies.get('__Host-gh-session')!;
    const answer = await there.get(atUpstream.href);
    expect(answer.status).toBe(303);
    const back = new URL(answer.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(`${gatehouse.issuer}/upstream/corp/logged-out`);
    expect(back.searchParams.get('state')).toBe(state);
    expect(
      await upstream.ctx.storage.sessions.findActive(sha256(upstreamSession), upstream.ctx.now()),
    ).toBeUndefined();

    const last = await here.get(back.href);
    expect(last.status).toBe(303);
    expect(last.headers.get('location')).toBe(`${signedOut}?state=rp-state`);
    expect(here.cookies.has('__Host-gh-upstream-logout')).toBe(false);
  });

  it('shows the signed-out page, and redirects nowhere, when the way back carries another state', async () => {
    const { here, idToken } = await signInThroughUpstream();
    const logout = `${gatehouse.issuer}/end_session?${new URLSearchParams({
      id_token_hint: idToken,
      post_logout_redirect_uri: signedOut,
      state: 'rp-state',
    })}`;
    const first = await here.get(logout);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')!.startsWith(`${upstream.issuer}/end_session?`)).toBe(true);
    const forged = await here.get(`${gatehouse.issuer}/upstream/corp/logged-out?state=not-the-state`);
    expect(forged.status).toBe(200);
    expect(forged.headers.get('content-type')).toMatch(/^text\/html/);
    expect(forged.headers.get('location')).toBeNull();
  });
});

describe('logout tokens from the upstream that are refused', () => {
  /** A freshly signed-in session and the claims of a valid logout token for it, signed by the upstream. */
  async function target() {
    const { here, session } = await signInThroughUpstream();
    const recorded = await gatehouse.ctx.storage.upstreamSessions.find(session.sid, gatehouse.ctx.now());
    const now = upstream.ctx.now();
    const claims: Record<string, unknown> = {
      iss: upstream.issuer,
      aud: 'downstream',
      iat: now,
      exp: now + 120,
      jti: randomBytes(16).toString('base64url'),
      sub: recorded!.upstreamSubject,
      sid: recorded!.upstreamSid,
      events: { [backchannelEvent]: {} },
    };
    return { here, claims };
  }

  const sign = (claims: Record<string, unknown>) =>
    signJwt(upstream.ctx.keys.signingKey(upstream.ctx.now()), 'logout+jwt', claims);

  const post = (token: string | undefined) =>
    fetch(`${gatehouse.issuer}/upstream/corp/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(token === undefined ? {} : { logout_token: token }),
    });

  async function expectRefused(token: string | undefined) {
    const response = await post(token);
    expect(response.status).toBe(400);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  }

  it('refuses a wrong iss, a wrong aud, no events, a nonce, neither sid nor sub, a bad signature and no token', async () => {
    const { here, claims } = await target();
    const fresh = (): Record<string, unknown> => ({ ...claims, jti: randomBytes(16).toString('base64url') });
    await expectRefused(await sign({ ...fresh(), iss: gatehouse.issuer }));
    await expectRefused(await sign({ ...fresh(), aud: 'web-app' }));
    const { events: _events, ...withoutEvents } = fresh();
    await expectRefused(await sign(withoutEvents));
    await expectRefused(await sign({ ...fresh(), events: { 'https://example.com/other-event': {} } }));
    await expectRefused(await sign({ ...fresh(), nonce: 'n-0S6_WzA2Mj' }));
    const { sub: _sub, sid: _sid, ...anonymous } = fresh();
    await expectRefused(await sign(anonymous));
    await expectRefused(tamperSignature(await sign(fresh())));
    // Signed by a key the upstream does not publish (this Gatehouse's own).
    await expectRefused(
      await signJwt(gatehouse.ctx.keys.signingKey(gatehouse.ctx.now()), 'logout+jwt', fresh()),
    );
    await expectRefused(undefined);
    await expectRefused('not.a.jwt');
    expect(await liveSession(here)).toBeDefined();
  });

  it('accepts a token once: the replayed jti is refused', async () => {
    const { here, claims } = await target();
    const token = await sign(claims);
    const accepted = await post(token);
    expect(accepted.status).toBe(200);
    expect(accepted.headers.get('cache-control')).toBe('no-store');
    expect(await liveSession(here)).toBeUndefined();
    await expectRefused(token);
  });

  it('ends every local session of the sub when the token names no sid', async () => {
    const first = await target();
    const second = await target();
    const { sid: _sid, ...bySub } = second.claims;
    const response = await post(await sign(bySub));
    expect(response.status).toBe(200);
    expect(await liveSession(first.here)).toBeUndefined();
    expect(await liveSession(second.here)).toBeUndefined();
  });

  it('refuses tokens at an unknown upstream', async () => {
    const { claims } = await target();
    const response = await fetch(`${gatehouse.issuer}/upstream/nobody/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: await sign(claims) }),
    });
    expect(response.status).toBe(400);
  });
});

describe('oidc-provider as the upstream', () => {
  const secret = 'gatehouse-at-oidc-provider-secret-0123456789';
  let provider: RunningProvider;
  let local: ListeningServer;
  let localReceiver: Receiver;

  beforeAll(async () => {
    localReceiver = await new Receiver((_index, received) => received.response.writeHead(200).end()).start();
    const port = await freePort();
    const here = `http://127.0.0.1:${port}`;
    provider = await startProvider({
      extraClients: [
        {
          client_id: 'gatehouse',
          client_secret: secret,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code'],
          response_types: ['code'],
          redirect_uris: [`${here}/upstream/op/callback`],
          backchannel_logout_uri: `${here}/upstream/op/backchannel-logout`,
          backchannel_logout_session_required: true,
        },
      ],
    });
    local = await listeningWithUpstream(
      port,
      { id: 'op', issuer: provider.issuer, clientId: 'gatehouse', clientSecret: secret },
      { backchannelLogoutUri: `${localReceiver.url}/bc` },
    );
  });

  afterAll(async () => {
    await local?.close();
    await provider?.close();
    await localReceiver?.close();
  });

  it("ends the local session when oidc-provider's logout token names it, and tells web-app", async () => {
    const here = new FetchBrowser(local.issuer);
    const there = new FetchBrowser(provider.issuer);
    const { url: authorize } = webAppAuthorization(local.issuer, { state: 's', idp: 'op' });
    const toProvider = await here.walk(authorize);
    const back = await walkProvider(provider.issuer, toProvider.location, there);
    const done = await here.walk(back);
    expect(new URL(done.location).searchParams.get('code')).toBeTypeOf('string');
    const sessionValue = here.cookies.get('__Host-gh-session')!;
    const session = await local.ctx.storage.sessions.findActive(sha256(sessionValue), local.ctx.now());
    const recorded = await local.ctx.storage.upstreamSessions.find(session!.sid, local.ctx.now());
    expect(recorded).toMatchObject({
      upstreamId: 'op',
      upstreamSubject: 'alice',
      upstreamSid: expect.any(String),
    });

    // alice signs out at oidc-provider: its confirmation form, then its back-channel POST to us.
    const page = await (await there.get(`${provider.issuer}/session/end`)).text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1];
    expect(xsrf).toBeDefined();
    const confirmed = await there.post(`${provider.issuer}/session/end/confirm`, {
      xsrf: xsrf!,
      logout: 'yes',
    });
    expect([302, 303]).toContain(confirmed.status);
    // web-app gets our logout token once the local session has ended (authorization codes make a grant).
    await localReceiver.requests(1);
    expect(
      await local.ctx.storage.sessions.findActive(sha256(sessionValue), local.ctx.now()),
    ).toBeUndefined();
    const delivered = decodeJwt(localReceiver.received[0]!.body.get('logout_token')!);
    expect(delivered).toMatchObject({ iss: local.issuer, aud: 'web-app', sid: session!.sid });
  });
});

describe('the back-channel logout endpoint of an upstream', () => {
  it('refuses tokens when the upstream has backchannel off, and limits each address', async () => {
    const local = await startServer({
      upstreams: [
        {
          id: 'quiet',
          name: 'Quiet',
          type: 'oidc',
          issuer: 'https://quiet.example.com',
          clientId: 'gatehouse',
          clientSecret: 'secret',
          logout: { backchannel: false },
        },
      ],
      rateLimits: { upstreamLogoutPerIp: { limit: 2, window: 60 } },
    });
    try {
      const send = () => postForm(local, '/upstream/quiet/backchannel-logout', { logout_token: 'a.b.c' });
      for (let attempt = 0; attempt < 2; attempt++) {
        const refused = await send();
        expect(refused.status).toBe(400);
        expect(refused.body.error).toBe('invalid_request');
      }
      expect((await send()).status).toBe(429);
    } finally {
      await local.close();
    }
  });
});
