/**
 * What the log may say. Request parameters are masked unless they are on the list of parameters known to
 * carry neither credentials nor personal data: a scan of every line written during a full run (code flow
 * with PKCE and a login hint, refresh, PAR, device flow, token exchange, a private_key_jwt assertion,
 * introspection, revocation, logout, and a client that puts credentials in URLs) finds none of the secret
 * values. A client that hangs up in the middle of its upload is logged as such, at info level with its
 * error code, never as a server error or a storage outage.
 */
import { connect } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertionType, clientAssertion } from './client-assertion.ts';
import {
  accessTokenType,
  Browser,
  buildServer,
  codeFlowTokens,
  deviceGrant,
  exchangeGrant,
  form,
  formOf,
  type GatehouseServer,
  introspectToken,
  logCapture,
  minimalPushedParams,
  parseConfig,
  password,
  postForm,
  refreshRequest,
  serviceSecret,
  serviceTokenRequest,
  testClients,
  testConfig,
  tokenRequest,
  webAppAuth,
  webSecret,
} from './helpers.ts';
import { freePort } from './interop-helpers.ts';

describe('log masking after a full run', () => {
  const log = logCapture();
  const secrets: Record<string, string> = {};
  let server: GatehouseServer;
  let jwtKey: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    jwtKey = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(jwtKey.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const config = parseConfig(
      testConfig({
        logging: { level: 'trace' },
        clients: [
          ...testClients({
            'web-app': {
              grantTypes: ['authorization_code', 'refresh_token', exchangeGrant],
              tokenExchange: { audiences: ['api1'] },
            },
          }),
          {
            clientId: 'device-app',
            name: 'TV Device',
            tokenEndpointAuthMethod: 'none',
            grantTypes: [deviceGrant],
            scopes: ['openid', 'api1.read'],
          },
          {
            clientId: 'jwt-client',
            name: 'JWT Client',
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwks: { keys: [jwk] },
            grantTypes: ['client_credentials'],
            scopes: ['orders.read'],
          },
        ],
      }),
    );
    server = await buildServer(config, { logStream: log.stream });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function codeFlow() {
    const hint = 'hint-4f7a9@example.com';
    const flow = await codeFlowTokens(server, {
      scope: 'openid profile offline_access orders.read api1.read',
      state: 'state-9c1e5b7d',
      nonce: 'nonce-2d8f6a3c',
      extra: { login_hint: hint },
    });
    expect(flow.tokens.status).toBe(200);
    const refreshed = await refreshRequest(server, flow.tokens.body.refresh_token as string);
    expect(refreshed.status).toBe(200);
    Object.assign(secrets, {
      login_hint: hint,
      state: 'state-9c1e5b7d',
      nonce: 'nonce-2d8f6a3c',
      code: flow.code,
      code_verifier: flow.pkce.verifier,
      access_token: flow.tokens.body.access_token as string,
      refresh_token: flow.tokens.body.refresh_token as string,
      id_token: flow.tokens.body.id_token as string,
      rotated_refresh_token: refreshed.body.refresh_token as string,
      refreshed_access_token: refreshed.body.access_token as string,
    });
    return refreshed.body;
  }

  async function pushedFlow() {
    const pushed = await postForm(server, '/par', minimalPushedParams(), { authorization: webAppAuth });
    expect(pushed.status, pushed.text).toBe(201);
    const requestUri = pushed.body.request_uri as string;
    secrets.request_uri = requestUri;
    const started = await new Browser(server).get(
      `/authorize?${form({ client_id: 'web-app', request_uri: requestUri })}`,
    );
    expect(started.statusCode).toBe(303);
  }

  async function deviceFlow() {
    const issued = await postForm(server, '/device_authorization', {
      client_id: 'device-app',
      scope: 'openid',
    });
    const userCode = issued.body.user_code as string;
    const deviceCode = issued.body.device_code as string;
    Object.assign(secrets, { user_code: userCode, device_code: deviceCode });
    // The user follows verification_uri_complete, signs in and approves.
    const browser = new Browser(server);
    const page = await browser.get(issued.body.verification_uri_complete as string);
    const signIn = formOf(page.body);
    const signedIn = await browser.post(signIn.action, {
      csrf: signIn.csrf,
      username: 'alice',
      password,
      user_code: userCode,
    });
    let current = await browser.get(signedIn.headers.location as string);
    if (!/name="decision"/.test(current.body)) {
      const entry = formOf(current.body);
      current = await browser.post(entry.action, { csrf: entry.csrf, user_code: userCode });
    }
    const confirm = formOf(current.body);
    const done = await browser.post(confirm.action, {
      csrf: confirm.csrf,
      user_code: userCode,
      decision: 'approve',
    });
    expect(done.statusCode).toBe(200);
    const tokens = await tokenRequest(server, {
      grant_type: deviceGrant,
      device_code: deviceCode,
      client_id: 'device-app',
    });
    expect(tokens.status).toBe(200);
    secrets.device_access_token = tokens.body.access_token as string;
  }

  async function exchangeAndAssertion(subjectToken: string) {
    const service = await serviceTokenRequest(server);
    const actorToken = service.body.access_token as string;
    const exchanged = await tokenRequest(
      server,
      {
        grant_type: exchangeGrant,
        subject_token: subjectToken,
        subject_token_type: accessTokenType,
        audience: 'api1',
      },
      webAppAuth,
    );
    expect(exchanged.status, exchanged.text).toBe(200);
    // A misbehaving client that puts the exchange's tokens in the URL.
    await server.app.inject({
      method: 'POST',
      url: `/token?${form({ subject_token: subjectToken, actor_token: actorToken, client_secret: webSecret })}`,
    });
    const assertion = await clientAssertion('jwt-client', jwtKey.privateKey, Math.floor(Date.now() / 1000), {
      kid: 'k1',
    });
    const asserted = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: 'jwt-client',
      client_assertion_type: assertionType,
      client_assertion: assertion,
    });
    expect(asserted.status).toBe(200);
    await server.app.inject({ url: `/jwks?assertion=${assertion}&client_assertion=${assertion}` });
    Object.assign(secrets, {
      actor_token: actorToken,
      exchanged_token: exchanged.body.access_token as string,
      client_assertion: assertion,
    });
  }

  it('finds none of the secret values in any line', async () => {
    const tokens = await codeFlow();
    await pushedFlow();
    await deviceFlow();
    await exchangeAndAssertion(tokens.access_token as string);
    const introspected = await introspectToken(server, tokens.access_token as string);
    expect(introspected.body.active).toBe(true);
    const revoked = await postForm(
      server,
      '/revoke',
      { token: tokens.refresh_token as string, token_type_hint: 'refresh_token' },
      { authorization: webAppAuth },
    );
    expect(revoked.status).toBe(200);
    await server.app.inject({
      url: `/end_session?${form({ id_token_hint: secrets.id_token, state: secrets.state, ui_locales: 'en' })}`,
    });
    Object.assign(secrets, { password, web_secret: webSecret, service_secret: serviceSecret });

    const text = log.lines.join('\n');
    expect(text).toContain('"url":"/token"');
    expect(text).toContain('ui_locales=en');
    for (const [name, value] of Object.entries(secrets)) {
      expect(value, name).toBeTruthy();
      expect.soft(text.includes(value), `${name} is in the log`).toBe(false);
      expect
        .soft(text.includes(encodeURIComponent(value)), `${name} (URL-encoded) is in the log`)
        .toBe(false);
    }
    expect(text.includes(secrets.user_code!.replace('-', '')), 'user_code without its dash').toBe(false);
  });
});

describe('a client that hangs up mid-upload', () => {
  const log = logCapture();
  let server: GatehouseServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    server = await buildServer(
      parseConfig(testConfig({ server: { host: '127.0.0.1', port }, logging: { level: 'info' } })),
      { logStream: log.stream },
    );
    await server.listen();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is logged at info level with its error code, not as a server error or a storage outage', async () => {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    const half = `grant_type=client_credentials&client_id=${'x'.repeat(400)}`;
    socket.write(
      `POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${half.length * 2}\r\n\r\n${half}`,
    );
    // Let the server read the first half before the connection drops.
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    const entries = () => log.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const deadline = Date.now() + 10_000;
    while (!entries().some((entry) => entry.err !== undefined) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const withError = entries().filter((entry) => entry.err !== undefined);
    expect(withError).toHaveLength(1);
    const [entry] = withError;
    expect(entry!.level).toBe(30);
    expect((entry!.err as { code?: string }).code).toBe('ECONNRESET');
    expect(entries().filter((line) => (line.level as number) >= 40)).toEqual([]);
    expect(log.lines.join('\n')).not.toMatch(/storage|server error|temporarily_unavailable/);
  });
});
