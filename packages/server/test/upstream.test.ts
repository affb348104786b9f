/**
 * Upstream identity providers (sessions/upstream.ts): oidc-provider as a real upstream (sign-in with JIT
 * provisioning end to end, the chooser, the `idp` and `login_hint` hints, the per-client allow-list), and a
 * hostile upstream made by hand with jose (discovery, JWKS and a token endpoint on a loopback port) whose
 * ID tokens each break one rule: every such callback is refused with an error page and starts no session.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RunningProvider,
  startProvider,
  walkProvider,
} from '../../client/test/support/oidc-provider.ts';
import { databaseOf } from '../src/storage/testing.ts';
import {
  Browser,
  codeRequest,
  formOf,
  issuer,
  logCapture,
  parseConfig,
  pkcePair,
  startServer,
  type TestServer,
  testClients,
  testConfig,
  webRedirect,
} from './helpers.ts';
import {
  buttonAction,
  callback,
  gatehouseAtProvider,
  type HostileUpstream,
  interactionPage,
  pressButton,
  startHostileUpstream,
  upstreamDriver,
  upstreamSecret,
  webAppIdToken,
} from './upstream-helpers.ts';

let provider: RunningProvider;
let hostile: HostileUpstream;
let server: TestServer;

beforeAll(async () => {
  hostile = await startHostileUpstream();
  provider = await startProvider({
    extraClients: [gatehouseAtProvider(['corp'])],
  });
  const common = { type: 'oidc', clientSecret: upstreamSecret, allowPrivateAddresses: true };
  server = await startServer({
    upstreams: [
      {
        ...common,
        id: 'corp',
        name: 'Corp SSO',
        issuer: provider.issuer,
        clientId: 'gatehouse',
        scopes: ['openid', 'profile'],
        provisioning: 'jit',
        domains: ['corp.example'],
      },
      {
        ...common,
        id: 'rogue',
        name: 'Rogue',
        issuer: hostile.issuer,
        clientId: 'gatehouse',
        provisioning: 'jit',
      },
      { ...common, id: 'partner', name: 'Partner', issuer: hostile.issuer, clientId: 'gatehouse' },
      {
        ...common,
        id: 'trusted',
        name: 'Trusted',
        issuer: hostile.issuer,
        clientId: 'gatehouse',
        provisioning: 'jit',
        trustedForMfa: true,
      },
      {
        ...common,
        id: 'guarded',
        name: 'Guarded',
        // Another issuer name for the same loopback server: discovery documents are cached per issuer.
        issuer: hostile.issuer.replace('127.0.0.1', 'localhost'),
        clientId: 'gatehouse',
        allowPrivateAddresses: false,
      },
    ],
    clients: testClients({ 'web-app': { upstreams: ['corp', 'rogue', 'partner', 'guarded', 'trusted'] } }),
  });
});

afterAll(async () => {
  await server?.close();
  await provider?.close();
  await hostile?.close();
});

const { sessionCount, expectRefused, validClaims, startAtHostile } = upstreamDriver(
  () => server,
  () => hostile,
);

describe('sign-in at oidc-provider with just-in-time provisioning', () => {
  it('provisions an account, signs in with amr fed and issues tokens for it; the next sign-in reuses it', async () => {
    const browser = new Browser(server);
    const location = await pressButton(browser, 'corp');
    expect(location.origin).toBe(provider.issuer);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('redirect_uri')).toBe(`${issuer}/upstream/corp/callback`);
    const back = new URL(await walkProvider(provider.issuer, location));
    expect(back.searchParams.get('iss')).toBe(provider.issuer);
    let response = await browser.get(back.href);
    expect(response.statusCode).toBe(303);
    expect(String(response.headers['set-cookie'])).toContain('__Host-gh-session');
    // web-app asks for consent: the provisioned user gives it.
    response = await browser.get(response.headers.location as string);
    const consent = formOf(response.body);
    response = await browser.post(consent.action, { csrf: consent.csrf, decision: 'allow' });
    const redirect = new URL(response.headers.location as string);
    expect(redirect.href.startsWith(webRedirect)).toBe(true);
    const users = await databaseOf(server.ctx.storage)
      .selectFrom('users')
      .select(['id', 'username', 'claims'])
      .where('username', '=', 'corp:alice')
      .execute();
    expect(users).toHaveLength(1);
    // oidc-provider puts profile claims in UserInfo, not in the ID token: they were fetched from there.
    expect(JSON.parse(users[0]!.claims)).toEqual({ name: 'Alice Smith' });
    expect(await server.ctx.storage.upstreams.findLinkedUser('corp', 'alice')).toBe(users[0]!.id);

    expect(redirect.searchParams.get('code')).toBeTypeOf('string');

    // A second sign-in in a fresh browser finds the same account.
    const second = new Browser(server);
    const again = new URL(await walkProvider(provider.issuer, await pressButton(second, 'corp')));
    response = await second.get(again.href);
    expect(response.statusCode).toBe(303);
    expect(
      await databaseOf(server.ctx.storage)
        .selectFrom('users')
        .select('id')
        .where('username', 'like', 'corp:%')
        .execute(),
    ).toHaveLength(1);
  });

  it('puts amr fed in the ID token of the provisioned user', async () => {
    const browser = new Browser(server);
    const pkce = pkcePair();
    const authorize = await browser.get(codeRequest(pkce, { clientId: 'web-app', extra: { idp: 'corp' } }));
    let response = await browser.get(authorize.headers.location as string);
    // The idp hint skips the chooser: straight to the upstream.
    expect(response.statusCode).toBe(303);
    const back = await walkProvider(provider.issuer, response.headers.location as string);
    response = await browser.get(back);
    const idToken = await webAppIdToken(server, browser, response.headers.location as string, pkce.verifier);
    expect(idToken.amr).toEqual(['fed']);
    expect(idToken.sub).toBe(await server.ctx.storage.upstreams.findLinkedUser('corp', 'alice'));
  });
});

describe('upstream sign-in and the local MFA policy', () => {
  const mfaRequest = () => ({ acr_values: server.config.mfa.acrValues.mfa });

  it("asks for the account's own second factor when MFA is required, whatever the upstream's amr", async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser, 'rogue', mfaRequest());
    hostile.nextIdToken({ ...validClaims(nonce, 'mfa-user'), amr: ['pwd', 'mfa'] });
    const response = await callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer });
    expect(response.statusCode).toBe(303);
    const next = response.headers.location as string;
    expect(next.startsWith(`${issuer}/interaction/`)).toBe(true);
    const page = await browser.get(next);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="code"');
  });

  it('lets an upstream trusted for MFA satisfy the policy with its amr', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser, 'trusted', mfaRequest());
    hostile.nextIdToken({ ...validClaims(nonce, 'trusted-user'), amr: ['pwd', 'mfa'] });
    const response = await callback(browser, 'trusted', { code: 'c', state, iss: hostile.issuer });
    expect(response.statusCode).toBe(303);
    const session = await server.ctx.storage.sessions.findActive(
      createHash('sha256').update(browser.cookies.get('__Host-gh-session')!).digest('base64url'),
      server.clock(),
    );
    expect(session?.amr).toEqual(['fed', 'pwd', 'mfa']);
    // Consent next (web-app asks for it), not a second factor.
    const page = await browser.get(response.headers.location as string);
    expect(page.body).toContain('name="decision"');
  });
});

describe('a fresh sign-in asked of the upstream', () => {
  it('forwards prompt=login and max_age, and refuses an ID token whose auth_time is older than max_age', async () => {
    const browser = new Browser(server);
    const location = await pressButton(browser, 'rogue', { prompt: 'login', max_age: '60' });
    expect(location.searchParams.get('prompt')).toBe('login');
    expect(location.searchParams.get('max_age')).toBe('60');
    const claims = validClaims(location.searchParams.get('nonce')!, 'stale-user');
    hostile.nextIdToken({ ...claims, auth_time: Number(claims.iat) - 3600 });
    await expectRefused(
      () =>
        callback(browser, 'rogue', {
          code: 'c',
          state: location.searchParams.get('state')!,
          iss: hostile.issuer,
        }),
      /did not succeed/,
    );
  });
});

describe('the chooser, the hints and the per-client allow-list', () => {
  it("lists the client's upstreams as buttons, in its order, beside the password form", async () => {
    const page = await interactionPage(new Browser(server));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Or sign in with');
    expect(page.body).toContain('Sign in with Corp SSO');
    expect(page.body.indexOf('Corp SSO')).toBeLessThan(page.body.indexOf('Rogue'));
    expect(page.body).toContain('name="password"');
    expect(page.body).not.toContain('<script');
  });

  it('speaks the language of ui_locales', async () => {
    const page = await interactionPage(new Browser(server), { ui_locales: 'de' });
    expect(page.body).toContain('Mit Corp SSO anmelden');
  });

  it('offers nothing to a client without upstreams and refuses a button posted for one', async () => {
    const browser = new Browser(server);
    const page = await interactionPage(browser, {}, 'post-app');
    expect(page.body).not.toContain('Corp SSO');
    const interaction = formOf(page.body).action.replace(/\/login$/, '');
    const response = await browser.post(`${interaction}/upstream/corp`, { csrf: formOf(page.body).csrf });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('not available for this application');
  });

  it('ignores an idp hint naming an upstream the client may not use', async () => {
    const page = await interactionPage(new Browser(server), { idp: 'corp' }, 'post-app');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="password"');
    const unknown = await interactionPage(new Browser(server), { idp: 'nobody' });
    expect(unknown.statusCode).toBe(200);
  });

  it('maps a login_hint domain to its upstream', async () => {
    const response = await interactionPage(new Browser(server), { login_hint: 'alice@Corp.example' });
    expect(response.statusCode).toBe(303);
    expect(new URL(response.headers.location as string).origin).toBe(provider.issuer);
  });

  it('refuses a button without the CSRF token', async () => {
    const browser = new Browser(server);
    const page = await interactionPage(browser);
    const response = await browser.post(buttonAction(page.body, 'corp')!, { csrf: 'forged' });
    expect(response.statusCode).toBe(400);
  });

  it('does not fetch discovery from a private address unless allowed', async () => {
    const browser = new Browser(server);
    const page = await interactionPage(browser);
    const response = await browser.post(buttonAction(page.body, 'guarded')!, {
      csrf: formOf(page.body).csrf,
    });
    expect(response.statusCode).toBe(502);
    expect(response.body).toContain('did not succeed');
  });
});

describe('a hostile upstream', () => {
  it('signs in with a valid ID token (the baseline the other cases break)', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser);
    hostile.nextIdToken(validClaims(nonce));
    const response = await callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer });
    expect(response.statusCode).toBe(303);
    expect(String(response.headers['set-cookie'])).toContain('__Host-gh-session');
    const subject = await server.ctx.storage.upstreams.findLinkedUser('rogue', 'rogue-user');
    const user = await server.ctx.storage.users.findById(subject!);
    expect(user).toMatchObject({ username: 'rogue:rogue-user', claims: { name: 'Rogue User' } });
    // The password of a provisioned account is the argon2id hash of a random value nobody knows.
    expect(user!.passwordHash).toMatch(/^\$argon2id\$/);
    const session = await server.ctx.storage.sessions.findActive(
      createHash('sha256').update(browser.cookies.get('__Host-gh-session')!).digest('base64url'),
      server.clock(),
    );
    expect(session?.amr).toEqual(['fed']);
  });

  it('refuses an ID token from another issuer', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser);
    hostile.nextIdToken({ ...validClaims(nonce), iss: provider.issuer });
    await expectRefused(
      () => callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer }),
      /did not succeed/,
    );
  });

  it('refuses an ID token for another audience', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser);
    hostile.nextIdToken({ ...validClaims(nonce), aud: 'someone-else' });
    await expectRefused(
      () => callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer }),
      /did not succeed/,
    );
  });

  it('refuses an ID token with a missing or a wrong nonce', async () => {
    for (const nonce of [undefined, 'not-the-nonce']) {
      const browser = new Browser(server);
      const { state, nonce: sent } = await startAtHostile(browser);
      const claims = validClaims(sent);
      if (nonce === undefined) delete claims.nonce;
      else claims.nonce = nonce;
      hostile.nextIdToken(claims);
      await expectRefused(
        () => callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer }),
        /did not succeed/,
      );
    }
  });

  it('refuses an ID token signed with a key the upstream does not publish', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser);
    const stranger = await generateKeyPair('ES256');
    hostile.nextIdToken(validClaims(nonce), stranger.privateKey);
    await expectRefused(
      () => callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer }),
      /did not succeed/,
    );
  });

  it('refuses an iss response parameter naming another provider (mix-up), and a missing one', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser);
    hostile.nextIdToken(validClaims(nonce));
    await expectRefused(
      () => callback(browser, 'rogue', { code: 'c', state, iss: provider.issuer }),
      /did not succeed/,
    );
    const other = new Browser(server);
    const second = await startAtHostile(other);
    hostile.nextIdToken(validClaims(second.nonce));
    await expectRefused(
      () => callback(other, 'rogue', { code: 'c', state: second.state }),
      /did not succeed/,
    );
  });

  it("refuses one provider's state at another provider's callback", async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser, 'rogue');
    hostile.nextIdToken(validClaims(nonce));
    await expectRefused(
      () => callback(browser, 'partner', { code: 'c', state, iss: hostile.issuer }),
      /did not succeed/,
    );
  });

  it('refuses a replayed state, an unknown one and none', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser);
    hostile.nextIdToken(validClaims(nonce, 'replayed-user'));
    const first = await callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer });
    expect(first.statusCode).toBe(303);
    hostile.nextIdToken(validClaims(nonce, 'replayed-user'));
    await expectRefused(
      () => callback(browser, 'rogue', { code: 'c', state, iss: hostile.issuer }),
      /did not succeed/,
    );
    await expectRefused(
      () => callback(new Browser(server), 'rogue', { code: 'c', state: 'made-up', iss: hostile.issuer }),
      /did not succeed/,
    );
    await expectRefused(
      () => callback(new Browser(server), 'rogue', { code: 'c', iss: hostile.issuer }),
      /did not succeed/,
    );
  });

  it("refuses another browser's state (a foreign state)", async () => {
    const victim = new Browser(server);
    const { state, nonce } = await startAtHostile(victim);
    hostile.nextIdToken(validClaims(nonce));
    const attacker = new Browser(server);
    await interactionPage(attacker); // the attacker has a browser cookie of its own
    await expectRefused(
      () => callback(attacker, 'rogue', { code: 'c', state, iss: hostile.issuer }),
      /started in another browser/,
    );
  });

  it('offers an unknown identity at an existing-only upstream a link, with no session and no account', async () => {
    const browser = new Browser(server);
    const { state, nonce } = await startAtHostile(browser, 'partner');
    hostile.nextIdToken(validClaims(nonce, 'partner-user'));
    const users = async () =>
      (await databaseOf(server.ctx.storage).selectFrom('users').select('id').execute()).length;
    const before = await users();
    const sessions = await sessionCount();
    const response = await callback(browser, 'partner', { code: 'c', state, iss: hostile.issuer });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toMatch(/\/interaction\/[^/]+\/link$/);
    expect(String(response.headers['set-cookie'] ?? '')).not.toContain('__Host-gh-session');
    expect(await sessionCount()).toBe(sessions);
    expect(await users()).toBe(before);
    expect(await server.ctx.storage.upstreams.findLinkedUser('partner', 'partner-user')).toBeUndefined();
  });

  it('refuses an error answer from the upstream', async () => {
    const browser = new Browser(server);
    const { state } = await startAtHostile(browser);
    await expectRefused(
      () => callback(browser, 'rogue', { error: 'access_denied', state, iss: hostile.issuer }),
      /did not succeed/,
    );
  });
});

describe('upstream configuration', () => {
  const upstream = {
    id: 'corp',
    name: 'Corp',
    type: 'oidc',
    issuer: 'https://idp.example.com',
    clientId: 'gatehouse',
    clientSecret: 'secret',
  };
  const parse = (overrides: Record<string, unknown>) => () => parseConfig(testConfig(overrides));

  it('fails at start-up naming the field', () => {
    expect(parse({ upstreams: [{ ...upstream, clientSecret: undefined }] })).toThrow(
      /upstreams\[0\]\.clientSecret/,
    );
    expect(parse({ upstreams: [{ ...upstream, issuer: 'http://idp.example.com' }] })).toThrow(
      /upstreams\[0\]\.issuer/,
    );
    expect(parse({ upstreams: [{ ...upstream, scopes: ['profile'] }] })).toThrow(/openid scope/);
    expect(parse({ upstreams: [upstream, upstream] })).toThrow(/duplicate upstream "corp"/);
    expect(
      parse({ upstreams: [upstream, { ...upstream, id: 'corp-2', allowPrivateAddresses: true }] }),
    ).toThrow(/upstreams\[1\]\.allowPrivateAddresses: must be the same/);
    expect(parse({ clients: testClients({ 'web-app': { upstreams: ['nobody'] } }) })).toThrow(
      /clients\[0\]\.upstreams\[0\]: unknown upstream "nobody"/,
    );
  });

  it('warns at start-up of each removed upstream still named by links or sessions, with counts only', async () => {
    const storage = { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-upstream-')), 'removed.db') };
    const before = await startServer({ storage, upstreams: [upstream, { ...upstream, id: 'retired' }] });
    const alice = await before.ctx.storage.users.findByUsername('alice');
    const now = before.clock();
    await before.ctx.storage.upstreams.link('retired', 'retired-subject', alice!.id, now);
    await before.ctx.storage.upstreams.link('corp', 'corp-subject', alice!.id, now);
    await before.ctx.storage.upstreamSessions.record(
      {
        sid: 'local-sid',
        upstreamId: 'retired',
        upstreamSubject: 'retired-subject',
        upstreamSid: null,
        idToken: null,
        expiresAt: now + 3600,
      },
      now,
    );
    await before.close();

    const log = logCapture();
    const after = await startServer(
      { storage, upstreams: [upstream], logging: { level: 'warn' } },
      { logStream: log.stream },
    );
    // Nothing is deleted: the provider may come back.
    expect(await after.ctx.storage.upstreams.findLinkedUser('retired', 'retired-subject')).toBe(alice!.id);
    await after.close();
    const warnings = log.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.upstream !== undefined);
    expect(warnings).toEqual([
      expect.objectContaining({ upstream: 'retired', linkedIdentities: 1, sessions: 1 }),
    ]);
    expect(log.lines.join('\n')).not.toContain('retired-subject');
  });

  it('offers no upstream to a client by default', () => {
    const config = parseConfig(testConfig({ upstreams: [upstream] }));
    expect(config.clients.every((client) => client.upstreams.length === 0)).toBe(true);
    expect(config.upstreams[0]).toMatchObject({
      provisioning: 'existing-only',
      trustedForEmail: false,
      trustedForMfa: false,
      allowPrivateAddresses: false,
    });
  });
});
