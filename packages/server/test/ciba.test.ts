/**
 * OpenID Connect CIBA Core 1.0: the backchannel authentication endpoint with every §13 error that applies,
 * the token endpoint's §11 answers (authorization_pending, slow_down, expired_token, access_denied) and
 * single use, driven through inject() with a controllable clock and a notifier passed to buildServer; the
 * approval pages; then poll and ping end to end over a real port, with a local HTTP server as the notifier
 * webhook (a signed JWT, checked against the server's JWKS) and as the client's ping receiver, and the
 * approval page filled in over HTTP as a user would; the ping refused to a private address unless
 * configured; and two nodes on one PostgreSQL database racing to redeem one auth_req_id.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { totpCode } from '../src/authn/totp.ts';
import { parseConfig } from '../src/config/load.ts';
import { pingClient } from '../src/protocol/backchannel-authentication.ts';
import type { BackchannelNotification } from '../src/protocol/backchannel-notification.ts';
import { failureOutcome, RetriedDeliveries } from '../src/protocol/retried-delivery.ts';
import { sha256Base64Url } from '../src/protocol/secrets.ts';
import { buildServer } from '../src/server.ts';
import { signJwt } from '../src/tokens/jwt.ts';
import { en } from '../src/views/locales/en.ts';
import { freshStore, requireService } from './backends.ts';
import {
  Browser,
  basic,
  cibaGrant,
  enrolTotp,
  formOf,
  issuer,
  logCapture,
  password,
  postForm,
  type TestServer,
  testClients,
  testClock,
  testConfig,
  tokenRequest,
} from './helpers.ts';
import { FetchBrowser, freePort } from './interop-helpers.ts';

const pollSecret = 'teller-poll-secret-0123456789-abcdefghijklmnopq';
const pingSecret = 'teller-ping-secret-0123456789-abcdefghijklmnopq';
const notificationToken = 'client-notification-token-0123456789-abcdefghijk';

function cibaClients(pingEndpoint = 'https://teller.example.com/ciba/ping') {
  return [
    ...testClients(),
    {
      clientId: 'teller-poll',
      name: 'Bank Teller',
      secret: pollSecret,
      grantTypes: [cibaGrant],
      scopes: ['openid', 'profile', 'api1.read'],
      backchannelTokenDeliveryMode: 'poll',
    },
    {
      clientId: 'teller-ping',
      name: 'Bank Teller (ping)',
      secret: pingSecret,
      grantTypes: [cibaGrant],
      scopes: ['openid', 'profile'],
      backchannelTokenDeliveryMode: 'ping',
      backchannelClientNotificationEndpoint: pingEndpoint,
    },
  ];
}

const pollAuth = basic('teller-poll', pollSecret);
const pingAuth = basic('teller-ping', pingSecret);

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

interface CibaServer extends TestServer {
  notifications: BackchannelNotification[];
}

/** A server whose notifier is a function (BuildOptions), recording what it is told. */
async function cibaServer(
  overrides: Record<string, unknown> = {},
  options: { logStream?: NodeJS.WritableStream; notifier?: boolean } = {},
): Promise<CibaServer> {
  const config = parseConfig(testConfig({ clients: cibaClients(), ...overrides }));
  const clock = testClock();
  const notifications: BackchannelNotification[] = [];
  const server = await buildServer(config, {
    clock,
    ...(options.logStream ? { logStream: options.logStream } : {}),
    ...(options.notifier === false
      ? {}
      : {
          backchannelNotifier: async (notification) => {
            notifications.push(notification);
          },
        }),
  });
  cleanups.push(() => server.close());
  return Object.assign(server, { clock, config, notifications });
}

function authenticate(
  server: TestServer,
  values: Record<string, string | undefined>,
  authorization = pollAuth,
) {
  return postForm(server, '/bc-authorize', values, { authorization });
}

const aliceRequest = { scope: 'openid profile', login_hint: 'alice', binding_message: 'TX 4711' };

async function start(server: CibaServer, values: Record<string, string | undefined> = aliceRequest) {
  const response = await authenticate(server, values);
  expect(response.status, response.text).toBe(200);
  return response.body.auth_req_id as string;
}

function poll(server: TestServer, authReqId: string | undefined, authorization = pollAuth) {
  return tokenRequest(server, { grant_type: cibaGrant, auth_req_id: authReqId }, authorization);
}

/** Signs in on the approval page the notification links to and decides. */
async function decide(server: CibaServer, decision: 'approve' | 'deny', username = 'alice') {
  const notification = server.notifications.at(-1)!;
  const browser = new Browser(server);
  const signIn = await browser.get(notification.approvalUrl);
  expect(signIn.statusCode).toBe(200);
  const login = formOf(signIn.body);
  const token = /name="token" value="([^"]+)"/.exec(signIn.body)![1]!;
  const signedIn = await browser.post(login.action, { csrf: login.csrf, token, username, password });
  if (signedIn.statusCode !== 303) return { browser, response: signedIn };
  const confirm = await browser.get(signedIn.headers.location as string);
  expect(confirm.statusCode).toBe(200);
  const decisionForm = formOf(confirm.body);
  const response = await browser.post(decisionForm.action, { csrf: decisionForm.csrf, token, decision });
  return { browser, response, confirm };
}

describe('the backchannel authentication endpoint (CIBA Core §7)', () => {
  it('answers auth_req_id (256 random bits, stored hashed), expires_in and interval, and notifies the user', async () => {
    const server = await cibaServer();
    const response = await authenticate(server, { ...aliceRequest, acr_values: 'urn:example:high' });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const { auth_req_id: authReqId, expires_in: expiresIn, interval } = response.body;
    expect(authReqId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresIn).toBe(300);
    expect(interval).toBe(5);
    const stored = await server.ctx.storage.backchannelRequests.findByHash(
      sha256Base64Url(authReqId as string),
    );
    expect(stored).toMatchObject({
      clientId: 'teller-poll',
      acrValues: ['urn:example:high'],
      status: 'pending',
    });
    const alice = await server.ctx.accounts.findByUsername('alice');
    expect(server.notifications).toHaveLength(1);
    expect(server.notifications[0]).toMatchObject({
      subject: alice!.subject,
      username: 'alice',
      clientId: 'teller-poll',
      clientName: 'Bank Teller',
      bindingMessage: 'TX 4711',
      scope: ['openid', 'profile'],
      expiresAt: server.clock() + 300,
    });
    expect(server.notifications[0]!.approvalUrl).toMatch(new RegExp(`^${issuer}/bc-approve\\?token=`));
    expect(server.notifications[0]!.approvalUrl).not.toContain(authReqId as string);
  });

  it('takes requested_expiry, capped at ciba.maxRequestTtl, and an id_token_hint issued to the client', async () => {
    const server = await cibaServer({ ciba: { maxRequestTtl: 600 } });
    expect((await authenticate(server, { ...aliceRequest, requested_expiry: '120' })).body.expires_in).toBe(
      120,
    );
    expect((await authenticate(server, { ...aliceRequest, requested_expiry: '7200' })).body.expires_in).toBe(
      600,
    );
    const bob = await server.ctx.accounts.findByUsername('bob');
    const now = server.clock();
    const idToken = (audience: string) =>
      signJwt(server.ctx.keys.signingKey(now), 'JWT', {
        iss: issuer,
        sub: bob!.subject,
        aud: audience,
        iat: now - 7200,
        exp: now - 3600,
      });
    const hinted = await authenticate(server, {
      scope: 'openid',
      id_token_hint: await idToken('teller-poll'),
    });
    expect(hinted.status).toBe(200);
    expect(server.notifications.at(-1)?.username).toBe('bob');
    const other = await authenticate(server, { scope: 'openid', id_token_hint: await idToken('web-app') });
    expect(other.status).toBe(400);
    expect(other.body.error).toBe('invalid_request');
  });

  it('answers every CIBA Core §13 error that applies, with its status', async () => {
    const server = await cibaServer();
    const cases: [Record<string, string | undefined>, string, number, string?][] = [
      [{ ...aliceRequest, login_hint: undefined }, 'invalid_request', 400],
      [{ ...aliceRequest, id_token_hint: 'x.y.z' }, 'invalid_request', 400],
      [{ scope: 'openid', login_hint_token: 'eyJ...' }, 'invalid_request', 400],
      [{ scope: 'openid', id_token_hint: 'not-a-jwt' }, 'invalid_request', 400],
      [{ ...aliceRequest, requested_expiry: '-5' }, 'invalid_request', 400],
      [{ ...aliceRequest, requested_expiry: 'soon' }, 'invalid_request', 400],
      [{ ...aliceRequest, user_code: '1234' }, 'invalid_request', 400],
      [{ ...aliceRequest, request: 'eyJ.eyJ.sig' }, 'invalid_request', 400],
      [{ ...aliceRequest, scope: 'profile' }, 'invalid_scope', 400],
      [{ ...aliceRequest, scope: 'openid orders.write' }, 'invalid_scope', 400],
      [{ ...aliceRequest, scope: undefined }, 'invalid_scope', 400],
      [{ ...aliceRequest, login_hint: 'nobody' }, 'unknown_user_id', 400],
      [{ ...aliceRequest, binding_message: 'x'.repeat(65) }, 'invalid_binding_message', 400],
      [{ ...aliceRequest, binding_message: 'TX\u202E4711' }, 'invalid_binding_message', 400],
      [{ ...aliceRequest, binding_message: '<script>' }, 'invalid_binding_message', 400],
    ];
    for (const [values, error, status] of cases) {
      const response = await authenticate(server, values);
      expect({ values, status: response.status, error: response.body.error }).toEqual({
        values,
        status,
        error,
      });
    }
    // A disabled account is as unknown as a missing one.
    const bob = await server.ctx.accounts.findByUsername('bob');
    await server.ctx.storage.users.setDisabled(bob!.subject, server.clock(), server.clock());
    const disabled = await authenticate(server, { ...aliceRequest, login_hint: 'bob' });
    expect([disabled.status, disabled.body.error]).toEqual([400, 'unknown_user_id']);
    // Ping mode needs the client's notification token (§7.1).
    const ping = await authenticate(server, aliceRequest, pingAuth);
    expect([ping.status, ping.body.error]).toEqual([400, 'invalid_request']);
    // Client authentication as at the token endpoint (§7.1): invalid_client is 401.
    const wrong = await authenticate(
      server,
      aliceRequest,
      basic('teller-poll', 'wrong-secret-0123456789-abcdefghijklmnop'),
    );
    expect([wrong.status, wrong.body.error]).toEqual([401, 'invalid_client']);
    // A client not registered for the CIBA grant (§13 unauthorized_client).
    const web = await authenticate(
      server,
      aliceRequest,
      basic('web-app', 'web-app-test-secret-0123456789-abcdefghijklmnop'),
    );
    expect([web.status, web.body.error]).toEqual([400, 'unauthorized_client']);
    expect(server.notifications).toHaveLength(0);
    // Nothing was stored for a refused request.
    expect(await server.ctx.storage.backchannelRequests.findByHash('x')).toBeUndefined();
  });

  it('refuses every request without a notifier, and answers 503 when the notifier fails', async () => {
    const silent = await cibaServer({}, { notifier: false });
    const refused = await authenticate(silent, aliceRequest);
    expect([refused.status, refused.body.error]).toEqual([400, 'unauthorized_client']);
    const metadata = await silent.app.inject({ url: '/.well-known/openid-configuration' });
    expect(metadata.json().backchannel_authentication_endpoint).toBeUndefined();

    const config = parseConfig(testConfig({ clients: cibaClients() }));
    const failing = await buildServer(config, {
      backchannelNotifier: async () => {
        throw new Error('push service down');
      },
    });
    cleanups.push(() => failing.close());
    const unreachable = await authenticate(failing as TestServer, aliceRequest);
    expect([unreachable.status, unreachable.body.error]).toEqual([503, 'temporarily_unavailable']);
  });

  it('limits requests per address (rateLimits.backchannelPerIp)', async () => {
    const server = await cibaServer({ rateLimits: { backchannelPerIp: { limit: 2, window: 60 } } });
    expect((await authenticate(server, aliceRequest)).status).toBe(200);
    expect((await authenticate(server, aliceRequest)).status).toBe(200);
    const limited = await authenticate(server, aliceRequest);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
  });

  it('is announced in discovery with poll and ping, no user codes, and the grant type', async () => {
    const server = await cibaServer();
    const metadata = (await server.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(metadata).toMatchObject({
      backchannel_authentication_endpoint: `${issuer}/bc-authorize`,
      backchannel_token_delivery_modes_supported: ['poll', 'ping'],
      backchannel_user_code_parameter_supported: false,
    });
    expect(metadata.grant_types_supported).toContain(cibaGrant);
  });
});

describe('the CIBA grant at the token endpoint (CIBA Core §10.1, §11)', () => {
  it('answers authorization_pending, slow_down (the interval grows), then tokens once', async () => {
    const server = await cibaServer();
    const authReqId = await start(server);
    const pending = await poll(server, authReqId);
    expect([pending.status, pending.body.error]).toEqual([400, 'authorization_pending']);
    server.clock.advance(2);
    const tooSoon = await poll(server, authReqId);
    expect([tooSoon.status, tooSoon.body.error]).toEqual([400, 'slow_down']);
    expect(tooSoon.body.error_description).toContain('10 seconds');
    // Each early poll adds five seconds for every later one (§11): 6 s is too soon for 10, 10 for 15.
    server.clock.advance(6);
    expect((await poll(server, authReqId)).body.error).toBe('slow_down');
    server.clock.advance(10);
    expect((await poll(server, authReqId)).body.error).toBe('slow_down');
    server.clock.advance(20);
    expect((await poll(server, authReqId)).body.error).toBe('authorization_pending');

    const { response, confirm } = await decide(server, 'approve');
    expect(confirm?.body).toContain('TX 4711');
    expect(confirm?.body).toContain('Bank Teller');
    expect(response.statusCode).toBe(200);
    const tokens = await poll(server, authReqId);
    expect(tokens.status, tokens.text).toBe(200);
    const alice = await server.ctx.accounts.findByUsername('alice');
    expect(decodeJwt(tokens.body.id_token as string)).toMatchObject({
      sub: alice!.subject,
      aud: 'teller-poll',
    });
    expect(tokens.body.scope).toBe('openid profile');

    const again = await poll(server, authReqId);
    expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
    expect(again.body.error_description).toBe('auth_req_id was already used');
  });

  it('answers access_denied after Deny, expired_token after expiry, invalid_grant to another client', async () => {
    const server = await cibaServer();
    const denied = await start(server);
    const { response } = await decide(server, 'deny');
    expect(response.statusCode).toBe(200);
    const refused = await poll(server, denied);
    expect([refused.status, refused.body.error]).toEqual([400, 'access_denied']);

    const expiring = await start(server, { ...aliceRequest, requested_expiry: '60' });
    const ping = await tokenRequest(server, { grant_type: cibaGrant, auth_req_id: expiring }, pingAuth);
    expect([ping.status, ping.body.error]).toEqual([400, 'invalid_grant']);
    expect((await poll(server, 'unknown-auth-req-id')).body.error).toBe('invalid_grant');
    expect((await poll(server, undefined)).body.error).toBe('invalid_request');
    server.clock.advance(61);
    const expired = await poll(server, expiring);
    expect([expired.status, expired.body.error]).toEqual([400, 'expired_token']);
    // The approval link expires with the request.
    const page = await new Browser(server).get(server.notifications.at(-1)!.approvalUrl);
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('expired or was already used');
  });

  it('refuses a client not registered for the grant (unauthorized_client)', async () => {
    const server = await cibaServer();
    const authReqId = await start(server);
    const response = await tokenRequest(
      server,
      { grant_type: cibaGrant, auth_req_id: authReqId },
      basic('web-app', 'web-app-test-secret-0123456789-abcdefghijklmnop'),
    );
    expect([response.status, response.body.error]).toEqual([400, 'unauthorized_client']);
  });
});

describe('the approval page', () => {
  it('works once, for the hinted user only, with a CSRF token', async () => {
    const server = await cibaServer();
    await start(server);
    // Bob's correct password does not open Alice's request.
    const { response: asBob } = await decide(server, 'approve', 'bob');
    expect(asBob.statusCode).toBe(403);
    expect(asBob.body).toContain('This request is for another account');

    const { browser, response } = await decide(server, 'approve');
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Request approved');
    // The link is used: the page, and a replayed decision, answer that it expired.
    const link = server.notifications.at(-1)!.approvalUrl;
    expect((await browser.get(link)).statusCode).toBe(400);
    const token = new URL(link).searchParams.get('token')!;
    const replay = await browser.post('/bc-approve/decision', { token, decision: 'deny', csrf: 'x' });
    expect(replay.statusCode).toBe(400);
  });

  it('opens no approval for a client disabled since the request (admin API), whose polls are refused', async () => {
    const server = await cibaServer();
    const authReqId = await start(server);
    expect(await server.ctx.storage.clients.setDisabled('teller-poll', server.clock())).toBe(true);
    const page = await new Browser(server).get(server.notifications.at(-1)!.approvalUrl);
    expect(page.statusCode).toBe(400);
    expect(page.body).not.toContain('TX 4711');
    expect((await poll(server, authReqId)).body.error).toBe('invalid_client');
  });

  it('refuses a decision without the form CSRF token', async () => {
    const server = await cibaServer();
    await start(server);
    const link = server.notifications.at(-1)!.approvalUrl;
    const token = new URL(link).searchParams.get('token')!;
    const browser = new Browser(server);
    const signIn = await browser.get(link);
    const login = formOf(signIn.body);
    await browser.post(login.action, { csrf: login.csrf, token, username: 'alice', password });
    const forged = await browser.post('/bc-approve/decision', {
      token,
      decision: 'approve',
      csrf: login.csrf,
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.body).toContain('The form has expired');
    const pending = await server.ctx.storage.backchannelRequests.findByApprovalHash(sha256Base64Url(token));
    expect(pending?.status).toBe('pending');
  });

  it('applies the MFA policy: an account without a second factor is sent to /mfa, which says why; nothing is approved', async () => {
    const server = await cibaServer({
      clients: cibaClients().map((client) =>
        client.clientId === 'teller-poll' ? { ...client, requireMfa: true } : client,
      ),
    });
    const authReqId = await start(server);
    const browser = new Browser(server);
    const link = server.notifications.at(-1)!.approvalUrl;
    const signIn = await browser.get(link);
    const login = formOf(signIn.body);
    const token = new URL(link).searchParams.get('token')!;
    await browser.post(login.action, { csrf: login.csrf, token, username: 'alice', password });
    const page = await browser.get(link);
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe(`${issuer}/mfa?needed=link`);
    const mfa = await browser.get(page.headers.location as string);
    expect(mfa.body).toContain(en['mfa.account.neededForLink']);
    expect(mfa.body).toContain('id="totp-status"');
    // Without the parameter, or for an account with a factor, /mfa says nothing of it.
    expect((await browser.get('/mfa')).body).not.toContain(en['mfa.account.neededForLink']);
    const pending = await poll(server, authReqId);
    expect(pending.body.error).toBe('authorization_pending');
  });

  it('is translated (de, fr, es)', async () => {
    const server = await cibaServer();
    await start(server);
    const link = server.notifications.at(-1)!.approvalUrl;
    for (const [language, title] of [
      ['de', 'Anmelden, um eine Anfrage zu beantworten'],
      ['fr', 'Connectez-vous pour répondre à une demande'],
      ['es', 'Inicie sesión para responder a una solicitud'],
    ] as const) {
      const page = await server.app.inject({
        url: link.replace(issuer, ''),
        headers: { 'accept-language': language },
      });
      expect(page.body).toContain(title);
    }
  });
});

describe('the second factor on the approval page (acr_values, OIDC Core §3.1.2.1; RFC 8176 amr)', () => {
  const mfaAcr = 'urn:gatehouse:acr:mfa';

  /** Alice with a confirmed TOTP authenticator (helpers.ts); returns its secret and recovery codes. */
  const enrolAlice = (server: CibaServer) => enrolTotp(server, 'alice');

  /** Opens the link and signs in with the password; returns the page that follows. */
  async function signInByLink(server: CibaServer) {
    const link = server.notifications.at(-1)!.approvalUrl;
    const token = new URL(link).searchParams.get('token')!;
    const browser = new Browser(server);
    const login = formOf((await browser.get(link)).body);
    const signedIn = await browser.post(login.action, {
      csrf: login.csrf,
      token,
      username: 'alice',
      password,
    });
    expect(signedIn.statusCode).toBe(303);
    return { browser, link, token, page: await browser.get(signedIn.headers.location as string) };
  }

  it('asks for the code, refuses and counts a wrong one, approves after the right one; the ID token says mfa', async () => {
    const { lines, stream } = logCapture();
    const server = await cibaServer({ logging: { level: 'info' } }, { logStream: stream });
    const { secret } = await enrolAlice(server);
    const authReqId = await start(server, { ...aliceRequest, acr_values: mfaAcr });
    const { browser, link, token, page } = await signInByLink(server);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Two-step verification');
    const prompt = formOf(page.body);
    expect(prompt.action).toBe(`${issuer}/bc-approve/mfa?token=${token}`);

    // A password alone does not approve, even with the session's form token.
    const early = await browser.post('/bc-approve/decision', {
      csrf: prompt.csrf,
      token,
      decision: 'approve',
    });
    expect(early.statusCode).toBe(403);
    expect(early.body).toContain('Two-step verification');
    expect((await poll(server, authReqId)).body.error).toBe('authorization_pending');

    const right = totpCode(secret, server.clock());
    const wrong = await browser.post(prompt.action, {
      csrf: prompt.csrf,
      code: right === '000000' ? '111111' : '000000',
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('That code is not valid');
    server.clock.advance(10);
    expect((await poll(server, authReqId)).body.error).toBe('authorization_pending');

    const verified = await browser.post(formOf(wrong.body).action, {
      csrf: formOf(wrong.body).csrf,
      code: right,
    });
    expect(verified.statusCode).toBe(303);
    expect(verified.headers.location).toBe(link);
    const confirm = await browser.get(link);
    expect(confirm.body).toContain('TX 4711');
    const decision = formOf(confirm.body);
    const done = await browser.post(decision.action, { csrf: decision.csrf, token, decision: 'approve' });
    expect(done.statusCode).toBe(200);

    server.clock.advance(10);
    const tokens = await poll(server, authReqId);
    expect(tokens.status).toBe(200);
    const idToken = decodeJwt(tokens.body.id_token as string);
    expect(idToken.acr).toBe(mfaAcr);
    expect(idToken.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));

    // The wrong code was counted against the account's second factor, for this client.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const failed = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.audit === 'mfa_failed');
    expect(failed).toEqual([expect.objectContaining({ client_id: 'teller-poll', failures: 1 })]);
    expect(lines.join('\n')).not.toContain(right);
  });

  it('takes a recovery code once; without acr_values a password is enough', async () => {
    const server = await cibaServer();
    const [recoveryCode] = (await enrolAlice(server)).recoveryCodes;

    const plain = await start(server);
    const { response } = await decide(server, 'approve');
    expect(response.statusCode).toBe(200);
    const plainToken = decodeJwt((await poll(server, plain)).body.id_token as string);
    expect(plainToken.amr).toEqual(['pwd']);

    const stepped = await start(server, { ...aliceRequest, acr_values: `${mfaAcr} urn:example:unknown` });
    for (const expected of [303, 401]) {
      const { browser, page } = await signInByLink(server);
      const prompt = formOf(page.body);
      const answer = await browser.post(prompt.action, { csrf: prompt.csrf, recovery_code: recoveryCode });
      expect(answer.statusCode).toBe(expected);
    }
    expect((await poll(server, stepped)).body.error).toBe('authorization_pending');
  });
});

/** A local HTTP server standing for the notifier webhook and the client's ping endpoint. */
interface Receiver {
  url: string;
  requests: { path: string; headers: IncomingMessage['headers']; body: string }[];
  next(path: string): Promise<{ headers: IncomingMessage['headers']; body: string }>;
}

/** Answers `statuses` in turn, then 204 to everything. */
async function receiver(statuses: number[] = []): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const waiting: { path: string; resolve: (request: Receiver['requests'][number]) => void }[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = {
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(entry);
      for (const waiter of waiting.filter((item) => item.path === entry.path)) waiter.resolve(entry);
      response.statusCode = statuses.shift() ?? 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    next: (path) => {
      const seen = requests.find((request) => request.path === path);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiting.push({ path, resolve }));
    },
  };
}

async function listeningServer(hooks: Receiver, ciba: Record<string, unknown>) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = parseConfig(
    testConfig({
      issuer: base,
      server: { host: '127.0.0.1', port },
      clients: cibaClients(`${hooks.url}/ping`),
      ciba: { notifier: { webhookUrl: `${hooks.url}/webhook` }, ...ciba },
    }),
  );
  const server = await buildServer(config);
  cleanups.push(() => server.close());
  await server.listen();
  return { server, base };
}

async function bcAuthorize(base: string, authorization: string, values: Record<string, string>) {
  const response = await fetch(`${base}/bc-authorize`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(values).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function tokenOver(base: string, authorization: string, authReqId: string) {
  const response = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: cibaGrant, auth_req_id: authReqId }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What the customer does with the webhook's link, in a browser over HTTP. */
async function approveOverHttp(base: string, approvalUrl: string, bindingMessage: string) {
  const browser = new FetchBrowser(base);
  const signIn = await browser.get(approvalUrl);
  expect(signIn.status).toBe(200);
  const signInPage = await signIn.text();
  const login = formOf(signInPage);
  const token = /name="token" value="([^"]+)"/.exec(signInPage)![1]!;
  const signedIn = await browser.post(new URL(login.action, base).toString(), {
    csrf: login.csrf,
    token,
    username: 'alice',
    password,
  });
  expect(signedIn.status).toBe(303);
  const confirm = await browser.get(new URL(signedIn.headers.get('location')!, base).toString());
  const confirmPage = await confirm.text();
  expect(confirmPage).toContain(bindingMessage);
  const decision = formOf(confirmPage);
  const done = await browser.post(new URL(decision.action, base).toString(), {
    csrf: decision.csrf,
    token,
    decision: 'approve',
  });
  expect(done.status).toBe(200);
}

describe('end to end over a real port', () => {
  it('poll mode: the webhook gets a signed notification, the customer approves, the teller polls tokens', async () => {
    const hooks = await receiver();
    const { base } = await listeningServer(hooks, {});
    const started = await bcAuthorize(base, pollAuth, {
      scope: 'openid profile',
      login_hint: 'alice',
      binding_message: 'Withdraw 200 EUR',
    });
    expect(started.status).toBe(200);
    const authReqId = started.body.auth_req_id as string;
    expect((await tokenOver(base, pollAuth, authReqId)).body.error).toBe('authorization_pending');

    const webhook = await hooks.next('/webhook');
    expect(webhook.headers['content-type']).toBe('application/jwt');
    const { payload, protectedHeader } = await jwtVerify(
      webhook.body,
      createRemoteJWKSet(new URL(`${base}/jwks`)),
      { issuer: base, audience: `${hooks.url}/webhook`, typ: 'ciba-notification+jwt' },
    );
    expect(protectedHeader.typ).toBe('ciba-notification+jwt');
    expect(payload).toMatchObject({
      username: 'alice',
      client_id: 'teller-poll',
      client_name: 'Bank Teller',
      binding_message: 'Withdraw 200 EUR',
      scope: 'openid profile',
    });
    expect(JSON.stringify(payload)).not.toContain(authReqId);

    await approveOverHttp(base, payload.approval_url as string, 'Withdraw 200 EUR');
    const tokens = await tokenOver(base, pollAuth, authReqId);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string).sub).toBe(payload.sub);
    const again = await tokenOver(base, pollAuth, authReqId);
    expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('ping mode: after approval the client is pinged with its bearer token and auth_req_id, then redeems it', async () => {
    const hooks = await receiver();
    const { base } = await listeningServer(hooks, { allowPrivateAddresses: true });
    const started = await bcAuthorize(base, pingAuth, {
      scope: 'openid',
      login_hint: 'alice',
      binding_message: 'Open account',
      client_notification_token: notificationToken,
    });
    expect(started.status).toBe(200);
    const authReqId = started.body.auth_req_id as string;
    const webhook = await hooks.next('/webhook');
    await approveOverHttp(base, decodeJwt(webhook.body).approval_url as string, 'Open account');
    const ping = await hooks.next('/ping');
    expect(ping.headers.authorization).toBe(`Bearer ${notificationToken}`);
    expect(ping.headers['content-type']).toBe('application/json');
    expect(JSON.parse(ping.body)).toEqual({ auth_req_id: authReqId });
    const tokens = await tokenOver(base, pingAuth, authReqId);
    expect(tokens.status).toBe(200);
    expect(tokens.body.id_token).toBeDefined();
  });
});

describe('the ping through the outbound guard (CIBA Core §10.2)', () => {
  it('is refused to a private address unless ciba.allowPrivateAddresses', async () => {
    const hooks = await receiver();
    for (const allow of [false, true]) {
      const { lines, stream } = logCapture();
      const config = parseConfig(
        testConfig({
          clients: cibaClients(`${hooks.url}/ping`),
          logging: { level: 'info' },
          ciba: { allowPrivateAddresses: allow },
        }),
      );
      const notifications: BackchannelNotification[] = [];
      const server = await buildServer(config, {
        logStream: stream,
        backchannelNotifier: async (notification) => {
          notifications.push(notification);
        },
      });
      cleanups.push(() => server.close());
      const response = await authenticate(
        server as TestServer,
        { ...aliceRequest, client_notification_token: notificationToken },
        pingAuth,
      );
      const hash = sha256Base64Url(response.body.auth_req_id as string);
      const record = await server.ctx.storage.backchannelRequests.findByHash(hash);
      await pingClient(server.ctx, record!);
      const pings = hooks.requests.filter((request) => request.path === '/ping');
      expect(pings).toHaveLength(allow ? 1 : 0);
      // Let the log flush, then read the outcome's audit event (never with the token).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const audit = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const outcome = audit.find(
        (line) => line.audit === 'ciba_ping_failed' || line.audit === 'ciba_ping_sent',
      );
      expect(outcome).toMatchObject(
        allow ? { audit: 'ciba_ping_sent' } : { audit: 'ciba_ping_failed', reason: 'BlockedAddressError' },
      );
      expect(lines.join('\n')).not.toContain(notificationToken);
      // Once sent, the plain auth_req_id and the notification token are forgotten.
      const after = await server.ctx.storage.backchannelRequests.findByHash(hash);
      expect(after?.pingAuthReqId === null).toBe(allow);
    }
  });
});

describe('ping retries (CIBA Core §10.2)', () => {
  it('retries a 5xx after a pause, and does not retry a 4xx', async () => {
    const hooks = await receiver([503, 204, 400]);
    const server = await cibaServer({
      clients: cibaClients(`${hooks.url}/ping`),
      ciba: { allowPrivateAddresses: true },
    });
    const pingRecord = async () => {
      const response = await authenticate(
        server,
        { ...aliceRequest, client_notification_token: notificationToken },
        pingAuth,
      );
      const hash = sha256Base64Url(response.body.auth_req_id as string);
      return { hash, record: (await server.ctx.storage.backchannelRequests.findByHash(hash))! };
    };
    const pings = () => hooks.requests.filter((request) => request.path === '/ping').length;

    const retried = await pingRecord();
    await pingClient(server.ctx, retried.record);
    expect(pings()).toBe(2);
    // Delivered on the second attempt: the plain auth_req_id is forgotten.
    expect((await server.ctx.storage.backchannelRequests.findByHash(retried.hash))?.pingAuthReqId).toBeNull();

    const refused = await pingRecord();
    await pingClient(server.ctx, refused.record);
    expect(pings()).toBe(3);
    expect(
      (await server.ctx.storage.backchannelRequests.findByHash(refused.hash))?.pingAuthReqId,
    ).not.toBeNull();
    expect(server.ctx.cibaPings.pending).toBe(0);
  });

  it('gives one attempt only while maxInFlight deliveries are retrying, and drain cancels the pauses', async () => {
    const deliveries = new RetriedDeliveries(60_000, 1);
    let calls = 0;
    const failing = async () => {
      calls++;
      return failureOutcome(new Error('connect ECONNREFUSED'));
    };
    const first = deliveries.deliver(3, failing);
    const second = await deliveries.deliver(3, failing);
    expect(second).toEqual({ outcome: failureOutcome(new Error('x')), attempts: 1, shutdown: false });
    expect(deliveries.pending).toBe(1);
    await deliveries.drain();
    expect(await first).toMatchObject({ attempts: 1, shutdown: true });
    expect(calls).toBe(2);
  });
});

describe('two nodes on one PostgreSQL database', () => {
  it('redeem an approved auth_req_id exactly once when racing', async () => {
    await requireService('postgres');
    const store = freshStore('postgres');
    cleanups.push(() => store.drop());
    const nodes: CibaServer[] = [];
    for (let index = 0; index < 2; index++) {
      const config = parseConfig(testConfig({ clients: cibaClients(), storage: store.options }));
      const clock = testClock();
      const notifications: BackchannelNotification[] = [];
      const node = await buildServer(config, {
        clock,
        backchannelNotifier: async (notification) => {
          notifications.push(notification);
        },
      });
      cleanups.unshift(() => node.close());
      nodes.push(Object.assign(node, { clock, config, notifications }));
    }
    const [first, second] = nodes as [CibaServer, CibaServer];
    const authReqId = await start(first);
    const { response } = await decide(first, 'approve');
    expect(response.statusCode).toBe(200);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, index) => poll(index % 2 === 0 ? first : second, authReqId)),
    );
    expect(outcomes.filter((outcome) => outcome.status === 200)).toHaveLength(1);
    for (const outcome of outcomes.filter((item) => item.status !== 200))
      expect(outcome.body.error).toBe('invalid_grant');
  });
});
