/**
 * Disabled and removed accounts of Gatehouse's own users table (accounts/lifecycle.ts, `gatehouse user
 * disable | enable | remove`): from the next request on, such an account cannot sign in (403 with the
 * disabled message, or the generic 401 once removed), its browser session no longer gives single sign-on
 * (prompt=none: login_required), its refresh token is refused (invalid_grant) and its access token is
 * refused at userinfo (401 invalid_token). Re-enabling restores sign-in and the kept grants, not the ended
 * sessions. With two server nodes on one PostgreSQL database, a disable by the CLI is seen by both at
 * their very next request, and an enable through one node's repositories by the other.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableAccount, enableAccount, removeAccount } from '../src/accounts/lifecycle.ts';
import type { Grant, RefreshToken, User } from '../src/model.ts';
import { openStorage } from '../src/storage/index.ts';
import type { Storage } from '../src/storage/ports.ts';
import { databaseOf } from '../src/storage/testing.ts';
import { backendNames, dropSchema, freshStore, postgresUrl, requireService, uniqueName } from './backends.ts';
import {
  Browser,
  buildServer,
  codeFlowTokens,
  codeRequest,
  type GatehouseServer,
  loginPage,
  parseConfig,
  password,
  pkcePair,
  refreshRequest,
  storedPasskey,
  testClock,
  testConfig,
  useServer,
  webRedirect,
} from './helpers.ts';
import { runGatehouse } from './processes.ts';

const alice = { username: 'alice', password };
const disabledMessage = 'This account is disabled\\. Contact your administrator\\.';

/** A signed-in browser with alice's tokens (code flow with offline_access through the real pages). */
async function signedInAlice(server: GatehouseServer) {
  const { browser, tokens } = await codeFlowTokens(server);
  expect(tokens.status).toBe(200);
  return {
    browser,
    accessToken: tokens.body.access_token as string,
    refreshToken: tokens.body.refresh_token as string,
  };
}

/** What a browser gets from /authorize with prompt=none: a code, or the error sent back to the client. */
async function silentSignIn(browser: Browser): Promise<{ code: string | null; error: string | null }> {
  const response = await browser.get(codeRequest(pkcePair(), { extra: { prompt: 'none' } }));
  expect(response.statusCode).toBe(303);
  const location = new URL(response.headers.location as string);
  expect(location.href.startsWith(webRedirect)).toBe(true);
  return { code: location.searchParams.get('code'), error: location.searchParams.get('error') };
}

async function userinfoStatus(server: GatehouseServer, accessToken: string) {
  const response = await server.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  const body = JSON.parse(response.body) as Record<string, unknown>;
  return { status: response.statusCode, error: body.error, sub: body.sub };
}

/** Refreshes; on success returns the rotated refresh token in place of the used one. */
async function refresh(server: GatehouseServer, refreshToken: string) {
  const response = await refreshRequest(server, refreshToken);
  return {
    status: response.status,
    error: response.body.error,
    refreshToken: response.body.refresh_token as string | undefined,
  };
}

/** A password sign-in on a new browser: the answer of the login form. */
async function signIn(server: GatehouseServer, user: { username: string; password: string }) {
  const { browser, form } = await loginPage(server);
  return browser.post(form.action, { csrf: form.csrf, ...user });
}

function expectDisabledPage(response: LightMyRequestResponse) {
  expect(response.statusCode).toBe(403);
  expect(response.body).toMatch(new RegExp(`<p class="error" role="alert"[^>]*>${disabledMessage}</p>`));
  expect(String(response.headers['set-cookie'] ?? '')).not.toContain('gh-session=');
}

async function aliceId(server: GatehouseServer): Promise<string> {
  return (await server.ctx.storage.users.findByUsername('alice'))!.id;
}

async function liveSessions(server: GatehouseServer, userId: string): Promise<number> {
  const rows = await databaseOf(server.ctx.storage)
    .selectFrom('sessions')
    .select('id_hash')
    .where('user_id', '=', userId)
    .where('ended_at', 'is', null)
    .execute();
  return rows.length;
}

describe('config users stored once listening (`gatehouse serve`)', () => {
  it('are stored only after listen(); a sign-in, an e-mail lookup and /readyz started before wait for them', async () => {
    const config = parseConfig(testConfig({ server: { host: '127.0.0.1', port: 0 } }));
    const server = await buildServer(config, { clock: testClock(), seedUsersInBackground: true });
    try {
      const signIn = signedInAlice(server);
      const ready = server.app.inject({ method: 'GET', url: '/readyz' });
      // The e-mail lookup an upstream sign-in makes to offer linking (sessions/upstream-link.ts).
      const byEmail = server.ctx.accounts.findByEmail!('alice@example.com', 2);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await server.ctx.storage.users.findByUsername('alice')).toBeUndefined();
      await server.listen();
      expect((await signIn).accessToken).toEqual(expect.any(String));
      expect((await ready).statusCode).toBe(200);
      expect((await byEmail).map((account) => account.username)).toEqual(['alice']);
      await server.ready;
      for (const user of config.users)
        expect(await server.ctx.storage.users.findByUsername(user.username)).toBeDefined();
    } finally {
      await server.close();
    }
  });

  it('close() before listen() ends without storing them', async () => {
    const config = parseConfig(testConfig());
    const server = await buildServer(config, { clock: testClock(), seedUsersInBackground: true });
    const storage = await openStorage(config.storage);
    try {
      await server.close();
      await server.ready;
      expect(await storage.users.findByUsername('alice')).toBeUndefined();
    } finally {
      await storage.close();
    }
  });
});

describe('a disabled account', () => {
  const server = useServer({}, { each: true });

  it('cannot sign in, loses SSO, refresh and userinfo at once, and gets them back (but the session) when enabled', async () => {
    const { browser, accessToken, refreshToken } = await signedInAlice(server);
    expect((await silentSignIn(browser)).code).not.toBeNull();
    const id = await aliceId(server);
    expect(await liveSessions(server, id)).toBe(1);

    const change = await disableAccount(server.ctx.storage, 'alice', server.clock());
    expect(change?.sessionsEnded).toBe(1);
    expect(await liveSessions(server, id)).toBe(0);

    expectDisabledPage(await signIn(server, alice));
    expect(await silentSignIn(browser)).toEqual({ code: null, error: 'login_required' });
    expect(await refresh(server, refreshToken)).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect(await userinfoStatus(server, accessToken)).toMatchObject({ status: 401, error: 'invalid_token' });
    // The refused refresh did not spend the token: the grant is kept for when the account is enabled.

    expect(await enableAccount(server.ctx.storage, 'alice', server.clock())).toBeDefined();
    expect(await userinfoStatus(server, accessToken)).toMatchObject({ status: 200, sub: id });
    const refreshed = await refresh(server, refreshToken);
    expect(refreshed.status).toBe(200);
    // The ended browser session stays ended: the user signs in again.
    expect(await silentSignIn(browser)).toEqual({ code: null, error: 'login_required' });
    expect((await signIn(server, alice)).statusCode).toBe(303);
  });

  it('stops a session even when only the disabled flag changed (another node, an older tool)', async () => {
    const { browser, accessToken } = await signedInAlice(server);
    const id = await aliceId(server);
    expect(await server.ctx.storage.users.setDisabled(id, server.clock(), server.clock())).toBe(true);
    expect(await liveSessions(server, id)).toBe(1);
    expect(await silentSignIn(browser)).toEqual({ code: null, error: 'login_required' });
    expect(await userinfoStatus(server, accessToken)).toMatchObject({ status: 401, error: 'invalid_token' });
    expect(await server.ctx.storage.users.setDisabled(id, null, server.clock())).toBe(true);
    // Here the session was never ended, so it counts again.
    expect((await silentSignIn(browser)).code).not.toBeNull();
  });

  it('with revokeGrants keeps its refresh token refused after it is enabled again', async () => {
    const { refreshToken } = await signedInAlice(server);
    await disableAccount(server.ctx.storage, 'alice', server.clock(), { revokeGrants: true });
    await enableAccount(server.ctx.storage, 'alice', server.clock());
    expect(await refresh(server, refreshToken)).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect((await signIn(server, alice)).statusCode).toBe(303);
  });

  it('keeps the time it was first disabled, and answers undefined for an unknown username', async () => {
    const first = server.clock();
    await disableAccount(server.ctx.storage, 'alice', first);
    server.clock.advance(60);
    await disableAccount(server.ctx.storage, 'alice', server.clock());
    expect((await server.ctx.storage.users.findByUsername('alice'))?.disabledAt).toBe(first);
    expect(await disableAccount(server.ctx.storage, 'nobody', first)).toBeUndefined();
    expect(await enableAccount(server.ctx.storage, 'nobody', first)).toBeUndefined();
    expect(await removeAccount(server.ctx.storage, 'nobody', first)).toBeUndefined();
    expect(await server.ctx.storage.users.setDisabled('no-such-id', first, first)).toBe(false);
    expect(await server.ctx.storage.users.remove('no-such-id')).toBe(false);
  });
});

describe('a removed account', () => {
  const server = useServer({}, { each: true });

  it('cannot sign in, loses SSO, refresh and userinfo; its consents go; a new account of that name inherits nothing', async () => {
    const { browser, accessToken, refreshToken } = await signedInAlice(server);
    const id = await aliceId(server);
    const db = databaseOf(server.ctx.storage);
    expect(await db.selectFrom('consents').selectAll().where('user_id', '=', id).execute()).toHaveLength(1);
    expect(
      await db.selectFrom('known_browsers').selectAll().where('user_id', '=', id).execute(),
    ).toHaveLength(1);

    const change = await removeAccount(server.ctx.storage, 'alice', server.clock());
    expect(change).toMatchObject({ user: { id }, sessionsEnded: 1 });
    expect(await server.ctx.storage.users.findById(id)).toBeUndefined();
    expect(await db.selectFrom('consents').selectAll().where('user_id', '=', id).execute()).toEqual([]);
    expect(await db.selectFrom('known_browsers').selectAll().where('user_id', '=', id).execute()).toEqual([]);

    const refused = await signIn(server, alice);
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('The username or password is incorrect.');
    expect(await silentSignIn(browser)).toEqual({ code: null, error: 'login_required' });
    expect(await refresh(server, refreshToken)).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect(await userinfoStatus(server, accessToken)).toMatchObject({ status: 401, error: 'invalid_token' });

    // The file's users are created again at the next start (a second node on the same file here): a new
    // alice, with a new subject and none of the old grants.
    const restarted = await buildServer(server.config, { clock: server.clock });
    try {
      const newId = (await restarted.ctx.storage.users.findByUsername('alice'))!.id;
      expect(newId).not.toBe(id);
      expect(await refresh(restarted, refreshToken)).toMatchObject({ status: 400, error: 'invalid_grant' });
      expect(await userinfoStatus(restarted, accessToken)).toMatchObject({ status: 401 });
      expect((await signIn(restarted, alice)).statusCode).toBe(303);
    } finally {
      await restarted.close();
    }
  });
});

describe('two nodes on one PostgreSQL database', { timeout: 120_000 }, () => {
  const schema = uniqueName('gh_accounts');
  let raw: Record<string, unknown>;
  let configFile: string;
  let nodeA: GatehouseServer;
  let nodeB: GatehouseServer;
  const clock = testClock();

  beforeAll(async () => {
    await requireService('postgres');
    raw = testConfig({ storage: { type: 'postgres', url: postgresUrl, schema } });
    configFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-accounts-')), 'gatehouse.json');
    writeFileSync(configFile, JSON.stringify(raw));
    nodeA = await buildServer(parseConfig(raw), { clock });
    nodeB = await buildServer(parseConfig(raw), { clock });
  });
  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await dropSchema(schema);
  });

  it('a disable by the CLI is seen by both at their next request; an enable on one by the other', async () => {
    const { browser, accessToken, refreshToken } = await signedInAlice(nodeA);
    // The browser's session and alice's tokens work on node B too (one store).
    const onB = new Browser(nodeB);
    for (const [name, value] of browser.cookies) onB.cookies.set(name, value);
    expect((await silentSignIn(onB)).code).not.toBeNull();
    expect((await userinfoStatus(nodeB, accessToken)).status).toBe(200);

    const disabled = await runGatehouse(['user', 'disable', 'alice', '--json', '--config', configFile]);
    expect(disabled.stderr).toBe('');
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({
      username: 'alice',
      disabled: true,
      sessionsEnded: 1,
    });

    // A NUL in the username cannot be in PostgreSQL text: refused as a malformed form (400), never a 500.
    expect((await signIn(nodeA, { username: 'alice\u0000', password })).statusCode).toBe(400);

    for (const node of [nodeA, nodeB]) {
      expect(await userinfoStatus(node, accessToken)).toMatchObject({ status: 401, error: 'invalid_token' });
      expect(await refresh(node, refreshToken)).toMatchObject({ status: 400, error: 'invalid_grant' });
      expectDisabledPage(await signIn(node, alice));
    }
    expect(await silentSignIn(onB)).toEqual({ code: null, error: 'login_required' });

    await enableAccount(nodeB.ctx.storage, 'alice', clock());
    expect((await userinfoStatus(nodeA, accessToken)).status).toBe(200);
    expect((await refresh(nodeA, refreshToken)).status).toBe(200);
    expect((await signIn(nodeA, alice)).statusCode).toBe(303);

    // Disabled through node A's repositories: node B refuses at its next request.
    await disableAccount(nodeA.ctx.storage, 'alice', clock());
    expect(await userinfoStatus(nodeB, accessToken)).toMatchObject({ status: 401, error: 'invalid_token' });
    expectDisabledPage(await signIn(nodeB, alice));
    await enableAccount(nodeA.ctx.storage, 'alice', clock());
  });

  it('the CLI names unknown users, refuses removing a user of the file, and prints its usage', async () => {
    const unknown = await runGatehouse(['user', 'disable', 'nobody', '--config', configFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no user "nobody"/);
    const declared = await runGatehouse(['user', 'remove', 'alice', '--config', configFile]);
    expect(declared.code).toBe(1);
    expect(declared.stderr).toMatch(/declared in the config file; remove it from the file first/);
    expect((await nodeA.ctx.storage.users.findByUsername('alice'))?.disabledAt).toBeNull();
    const usage = await runGatehouse(['user', 'enable', '--config', configFile]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/usage: gatehouse user enable NAME/);
  });

  it('the CLI resets the second factors of a user, passkeys included (admin/users.ts resetFactors)', async () => {
    const bob = (await nodeA.ctx.storage.users.findByUsername('bob'))!;
    const { mfa, webauthn } = nodeA.ctx.storage;
    await mfa.startTotp(bob.id, 'sealed-secret', clock());
    await mfa.confirmTotp(bob.id, 'sealed-secret', 1, clock());
    await mfa.replaceRecoveryCodes(bob.id, ['hash-1'], clock());
    for (const credentialId of ['bob-key-1', 'bob-key-2'])
      await webauthn.addCredential(storedPasskey(credentialId, bob.id));
    const reset = await runGatehouse(['user', 'reset-factors', 'bob', '--json', '--config', configFile]);
    expect(reset.stderr).toBe('');
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout)).toEqual({ id: bob.id, username: 'bob', passkeysRemoved: 2 });
    expect(await mfa.findTotp(bob.id)).toBeUndefined();
    expect(await mfa.unusedRecoveryCodes(bob.id)).toBe(0);
    expect(await webauthn.listCredentials(bob.id)).toEqual([]);
    const unknown = await runGatehouse(['user', 'reset-factors', 'nobody', '--config', configFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no user "nobody"/);
  });

  it('the CLI removes a user added to the table, with its grants', async () => {
    const added = await runGatehouse(
      ['user', 'add', '--username', 'carol', '--config', configFile],
      'a long passphrase for carol\n',
    );
    expect(added.code).toBe(0);
    const carol = { username: 'carol', password: 'a long passphrase for carol' };
    expect((await signIn(nodeA, carol)).statusCode).toBe(303);
    const removed = await runGatehouse(['user', 'remove', 'carol', '--json', '--config', configFile]);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ username: 'carol', removed: true, sessionsEnded: 1 });
    expect((await signIn(nodeB, carol)).statusCode).toBe(401);
  });
});

describe.each(backendNames)('the account repository methods on %s', (backend) => {
  const at = 1_800_000_000;
  const store = freshStore(backend);
  let storage: Storage;

  const user = (id: string, username: string): User => ({
    id,
    username,
    passwordHash: 'not a real hash',
    claims: {},
    roles: [],
    disabledAt: null,
  });
  const grant = (id: string, userId: string): Grant => ({
    id,
    clientId: 'c',
    userId,
    sid: null,
    scopes: ['openid', 'offline_access'],
    resources: [],
    createdAt: at,
    revokedAt: null,
  });
  const refreshToken = (hash: string, grantId: string, userId: string): RefreshToken => ({
    tokenHash: hash,
    grantId,
    clientId: 'c',
    userId,
    scope: ['openid', 'offline_access'],
    resources: [],
    authTime: at,
    amr: ['pwd'],
    sid: 's',
    expiresAt: at + 3600,
    absoluteExpiresAt: at + 86400,
    consumedAt: null,
    createdAt: at,
    dpopJkt: null,
  });

  beforeAll(async () => {
    if (backend === 'postgres') await requireService('postgres');
    storage = await openStorage(store.options);
  });
  afterAll(async () => {
    await storage?.close();
    await store.drop();
  });

  it('disables, enables and removes a user, ends its sessions and revokes its grants only', async () => {
    await storage.users.create(user('u-1', 'one'), at);
    await storage.users.create(user('u-2', 'two'), at);
    expect(await storage.users.setDisabled('u-1', at + 5, at + 5)).toBe(true);
    expect((await storage.users.findById('u-1'))?.disabledAt).toBe(at + 5);
    expect((await storage.users.findById('u-2'))?.disabledAt).toBeNull();
    expect(await storage.users.setDisabled('u-1', null, at + 6)).toBe(true);
    expect((await storage.users.findById('u-1'))?.disabledAt).toBeNull();

    for (const [hash, sid, userId] of [
      ['h-1', 's-1', 'u-1'],
      ['h-2', 's-2', 'u-1'],
      ['h-3', 's-3', 'u-2'],
    ] as const)
      await storage.sessions.create(
        hash,
        { sid, userId, authTime: at, amr: ['pwd'], expiresAt: at + 3600 },
        at,
      );
    await storage.sessions.end('h-2', at + 1);
    expect(await storage.sessions.endAllForUser('u-1', at + 7)).toBe(1);
    expect(await storage.sessions.findActive('h-1', at + 8)).toBeUndefined();
    expect(await storage.sessions.findActive('h-3', at + 8)).toBeDefined();
    expect(await storage.sessions.endAllForUser('u-1', at + 9)).toBe(0);

    await storage.grants.create(grant('g-1', 'u-1'));
    await storage.grants.create(grant('g-2', 'u-2'));
    await storage.refreshTokens.create(refreshToken('rt-1', 'g-1', 'u-1'));
    await storage.refreshTokens.create(refreshToken('rt-2', 'g-2', 'u-2'));
    await storage.transaction((repositories) => repositories.grants.revokeAllForUser('u-1', at + 10));
    expect((await storage.grants.find('g-1'))?.revokedAt).toBe(at + 10);
    expect((await storage.grants.find('g-2'))?.revokedAt).toBeNull();
    expect(await storage.refreshTokens.consume('rt-1', 'c', at + 11)).toBeUndefined();
    expect(await storage.isAccessTokenRevoked('some-jti', 'g-1', at + 11)).toBe(true);
    expect(await storage.isAccessTokenRevoked('some-jti', 'g-2', at + 11)).toBe(false);
    expect(await storage.refreshTokens.consume('rt-2', 'c', at + 11)).toBeDefined();

    await storage.consents.save('u-1', 'c', ['openid'], at);
    await storage.consents.save('u-2', 'c', ['openid'], at);
    await storage.knownBrowsers.remember('b-1', 'u-1', at + 3600, at);
    expect(await storage.transaction((repositories) => repositories.users.remove('u-1'))).toBe(true);
    expect(await storage.users.findById('u-1')).toBeUndefined();
    expect(await storage.users.findByUsername('one')).toBeUndefined();
    expect(await storage.consents.find('u-1', 'c')).toEqual([]);
    expect(await storage.consents.find('u-2', 'c')).toEqual(['openid']);
    expect(await storage.knownBrowsers.isKnown('b-1', 'u-1', at)).toBe(false);
    expect(await storage.users.remove('u-1')).toBe(false);
    // The username is free again, for a new account with a new id.
    expect(await storage.users.create(user('u-3', 'one'), at)).toBe(true);
  });
});
