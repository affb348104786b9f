/**
 * Upstream providers of stored clients (migration 0024_client_upstreams): a client created over the admin
 * API or with `gatehouse client add --upstream` offers the upstreams it names on its login page, and the
 * `idp` / `login_hint` shortcuts work for it as for a client of the config file; oidc-provider is the
 * upstream. Unknown upstream ids are refused; a stored client without the field offers none.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RunningProvider,
  startProvider,
  walkProvider,
} from '../../client/test/support/oidc-provider.ts';
import { adminConfig, call, expectProblem, operatorToken } from './admin-helpers.ts';
import {
  Browser,
  buildServer,
  codeRequest,
  parseConfig,
  pkcePair,
  postForm,
  postRaw,
  startServer,
  type TestServer,
  testConfig,
} from './helpers.ts';
import { runGatehouse } from './processes.ts';
import { buttonAction, gatehouseAtProvider, upstreamSecret } from './upstream-helpers.ts';

const storedRedirect = 'https://stored.example.com/cb';

let provider: RunningProvider;
let server: TestServer;
let token: string;

/** The configured upstreams: oidc-provider as `corp` (domain corp.example) and `partner` (same provider). */
const upstreams = () =>
  ['corp', 'partner'].map((id) => ({
    id,
    name: id === 'corp' ? 'Corp SSO' : 'Partner SSO',
    type: 'oidc',
    issuer: provider.issuer,
    clientId: 'gatehouse',
    clientSecret: upstreamSecret,
    scopes: ['openid', 'profile'],
    provisioning: 'jit',
    allowPrivateAddresses: true,
    ...(id === 'corp' ? { domains: ['corp.example'] } : {}),
  }));

/** A public authorization-code client as the admin API and the CLI both write it. */
const storedClient = (clientId: string, extra: Record<string, unknown> = {}) => ({
  clientId,
  name: `Stored ${clientId}`,
  tokenEndpointAuthMethod: 'none',
  grantTypes: ['authorization_code'],
  redirectUris: [storedRedirect],
  scopes: ['openid', 'profile'],
  requireConsent: false,
  ...extra,
});

beforeAll(async () => {
  provider = await startProvider({
    extraClients: [gatehouseAtProvider(['corp', 'partner'])],
  });
  server = await startServer(
    adminConfig({ upstreams: upstreams(), registration: { enabled: true, mode: 'open' } }),
  );
  token = await operatorToken(server);
  for (const [clientId, extra] of [
    ['stored-app', { upstreams: ['partner', 'corp'] }],
    ['stored-plain', {}],
  ] as const) {
    const created = await call(server, 'POST', '/clients', { token, body: storedClient(clientId, extra) });
    expect(created.status).toBe(201);
  }
});

afterAll(async () => {
  await server?.close();
  await provider?.close();
});

/** Starts an authorization at a stored client; returns the /authorize answer's next page (or redirect). */
async function authorize(browser: Browser, clientId: string, extra: Record<string, string> = {}) {
  const pkce = pkcePair();
  const start = await browser.get(
    codeRequest(pkce, { clientId, redirectUri: storedRedirect, scope: 'openid', extra }),
  );
  expect(start.statusCode).toBe(303);
  return { pkce, page: await browser.get(start.headers.location as string) };
}

describe('a client created over the admin API with upstreams', () => {
  it('returns the field on read, in the order given, and an empty list for a client without it', async () => {
    expect((await call(server, 'GET', '/clients/stored-app', { token })).body.upstreams).toEqual([
      'partner',
      'corp',
    ]);
    expect((await call(server, 'GET', '/clients/stored-plain', { token })).body.upstreams).toEqual([]);
  });

  it('lists those providers on its login page and signs in through one', async () => {
    const browser = new Browser(server);
    const { pkce, page } = await authorize(browser, 'stored-app');
    expect(page.statusCode).toBe(200);
    expect(page.body.indexOf('Sign in with Partner SSO')).toBeGreaterThan(-1);
    expect(page.body.indexOf('Partner SSO')).toBeLessThan(page.body.indexOf('Corp SSO'));
    const action = buttonAction(page.body, 'corp');
    expect(action).toBeDefined();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const pressed = await browser.post(action!, { csrf });
    expect(pressed.statusCode).toBe(303);
    const back = await walkProvider(provider.issuer, pressed.headers.location as string);
    const signedIn = await browser.get(back);
    expect(signedIn.statusCode).toBe(303);
    const redirect = new URL(signedIn.headers.location as string);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(storedRedirect);
    const tokens = await postForm(server, '/token', {
      grant_type: 'authorization_code',
      client_id: 'stored-app',
      code: redirect.searchParams.get('code')!,
      redirect_uri: storedRedirect,
      code_verifier: pkce.verifier,
    });
    expect(tokens.status).toBe(200);
    const idToken = decodeJwt(tokens.body.id_token as string);
    expect(idToken.amr).toEqual(['fed']);
    expect(idToken.sub).toBe(await server.ctx.storage.upstreams.findLinkedUser('corp', 'alice'));
  });

  it('goes straight to the upstream named by idp or by the login_hint domain', async () => {
    const hints: Record<string, string>[] = [{ idp: 'partner' }, { login_hint: 'alice@corp.example' }];
    for (const extra of hints) {
      const { page } = await authorize(new Browser(server), 'stored-app', extra);
      expect(page.statusCode).toBe(303);
      const location = new URL(page.headers.location as string);
      expect(location.origin).toBe(provider.issuer);
      const id = 'idp' in extra ? 'partner' : 'corp';
      expect(location.searchParams.get('redirect_uri')).toBe(`http://localhost:3000/upstream/${id}/callback`);
    }
  });

  it('takes an update of the list: a provider taken out is no longer offered or reachable by idp', async () => {
    const current = await call(server, 'GET', '/clients/stored-app', { token });
    const replaced = await call(server, 'PUT', '/clients/stored-app', {
      token,
      ifMatch: current.headers.etag as string,
      body: { ...current.body, upstreams: ['corp'] },
    });
    expect(replaced.status).toBe(200);
    expect((replaced.body.client as { upstreams: string[] }).upstreams).toEqual(['corp']);
    const { page } = await authorize(new Browser(server), 'stored-app', { idp: 'partner' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Corp SSO');
    expect(page.body).not.toContain('Partner SSO');
  });
});

describe('refusals and clients without upstreams', () => {
  it('refuses an unknown upstream id on create and on update, naming it', async () => {
    const created = await call(server, 'POST', '/clients', {
      token,
      body: storedClient('stored-bad', { upstreams: ['corp', 'nowhere'] }),
    });
    expectProblem(created, 400, 'invalid_request');
    expect(created.body.errors).toEqual([
      { field: 'upstreams.1', message: expect.stringContaining('unknown upstream "nowhere"') },
    ]);
    expect((await call(server, 'GET', '/clients/stored-bad', { token })).status).toBe(404);

    const current = await call(server, 'GET', '/clients/stored-plain', { token });
    const replaced = await call(server, 'PUT', '/clients/stored-plain', {
      token,
      ifMatch: current.headers.etag as string,
      body: { ...current.body, upstreams: ['elsewhere'] },
    });
    expectProblem(replaced, 400, 'invalid_request');
    expect(replaced.text).toContain('unknown upstream \\"elsewhere\\"');
    expect((await call(server, 'GET', '/clients/stored-plain', { token })).body.upstreams).toEqual([]);
  });

  it('offers no provider to a stored client without the field, and ignores an idp hint for it', async () => {
    const { page } = await authorize(new Browser(server), 'stored-plain', { idp: 'corp' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="password"');
    expect(page.body).not.toContain('Corp SSO');
    expect(buttonAction(page.body, 'corp')).toBeUndefined();
  });

  it('ignores upstreams in RFC 7591 registration metadata: a registering client cannot pick providers', async () => {
    const metadata = {
      client_name: 'Registered',
      redirect_uris: [storedRedirect],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      scope: 'openid',
      upstreams: ['corp'],
    };
    const registered = await postRaw(
      server,
      '/register',
      { 'content-type': 'application/json' },
      JSON.stringify(metadata),
    );
    expect(registered.statusCode).toBe(201);
    const clientId = (JSON.parse(registered.body) as { client_id: string }).client_id;
    expect((await server.ctx.storage.clients.find(clientId))?.upstreams).toBeUndefined();
    const { page } = await authorize(new Browser(server), clientId, { idp: 'corp' });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('Corp SSO');
  });
});

describe('gatehouse client add --upstream', { timeout: 180_000 }, () => {
  it('stores the providers given, which the login page then offers; an unknown one is refused', async () => {
    const raw = testConfig({ upstreams: upstreams() });
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-upstream-cli-')), 'gatehouse.json');
    writeFileSync(file, JSON.stringify(raw));
    const add = (clientId: string, ...ids: string[]) =>
      runGatehouse([
        'client',
        'add',
        '--id',
        clientId,
        '--name',
        'CLI app',
        '--public',
        '--grant',
        'authorization_code',
        '--redirect-uri',
        storedRedirect,
        '--scope',
        'openid',
        ...ids.flatMap((id) => ['--upstream', id]),
        '--config',
        file,
      ]);
    const refused = await add('cli-bad', 'corp', 'nowhere');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('unknown upstream "nowhere"');
    const added = await add('cli-app', 'partner', 'corp');
    expect(added.code).toBe(0);

    const cliServer = Object.assign(await buildServer(parseConfig(raw)), { clock: server.clock });
    try {
      expect(await cliServer.ctx.storage.clients.find('cli-bad')).toBeUndefined();
      expect((await cliServer.ctx.storage.clients.find('cli-app'))?.upstreams).toEqual(['partner', 'corp']);
      const browser = new Browser(cliServer as TestServer);
      const start = await browser.get(
        codeRequest(pkcePair(), { clientId: 'cli-app', redirectUri: storedRedirect, scope: 'openid' }),
      );
      const page = await browser.get(start.headers.location as string);
      expect(buttonAction(page.body, 'partner')).toBeDefined();
      expect(buttonAction(page.body, 'corp')).toBeDefined();
    } finally {
      await cliServer.close();
    }
  });
});
