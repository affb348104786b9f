/**
 * The storage conformance suite: every repository operation, the expiry sweep, the caches that must see
 * other connections' writes, and the single-use statements under concurrency, run unchanged on SQLite and
 * on PostgreSQL (a fresh file / a fresh schema per run, see backends.ts).
 */
import { createServer } from 'node:net';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  AuthorizationCode,
  BackchannelAuthenticationRequest,
  Client,
  DeviceCode,
  PolledAuthorization,
  RefreshToken,
  SigningKeyRecord,
} from '../src/model.ts';
import { changeTopics, oncePerTurn, topicVersion } from '../src/storage/caches.ts';
import { isTransientStorageError, openStorage } from '../src/storage/index.ts';
import type { DeviceCodeDecision, Storage, UpstreamSession } from '../src/storage/ports.ts';
import { sweepExpired } from '../src/storage/sweep.ts';
import { databaseOf } from '../src/storage/testing.ts';
import { type BackendName, backendNames, freshStore, postgresUrl, requireService } from './backends.ts';
import { codeRequest, pkcePair, startServer, storedPasskey } from './helpers.ts';

const now = 1_800_000_000;
/** Lets the event loop turn: another connection's commits are seen from the next turn on (storage/index.ts). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function code(hash: string, grantId: string): AuthorizationCode {
  return {
    codeHash: hash,
    grantId,
    clientId: 'c',
    userId: 'u',
    redirectUri: 'https://app.example.com/cb',
    codeChallenge: 'x'.repeat(43),
    scope: ['openid'],
    resources: ['https://api.example.com'],
    nonce: null,
    authTime: now,
    amr: ['pwd'],
    sid: 's',
    expiresAt: now + 60,
    consumedAt: null,
    createdAt: now,
    dpopJkt: null,
  };
}

function refresh(hash: string, grantId: string, clientId = 'c'): RefreshToken {
  const { codeHash: _c, redirectUri: _r, codeChallenge: _cc, nonce: _n, ...handle } = code(hash, grantId);
  return { ...handle, clientId, tokenHash: hash, expiresAt: now + 3600, absoluteExpiresAt: now + 7200 };
}

function grant(id: string, clientId = 'c', sid: string | null = 's') {
  return {
    id,
    clientId,
    userId: 'u',
    sid,
    scopes: ['openid', 'offline_access'],
    resources: [],
    createdAt: now,
    revokedAt: null,
  };
}

function client(clientId: string, name = 'A client'): Client {
  return {
    clientId,
    name,
    secrets: [{ hash: 'hash-1', expiresAt: null }],
    tokenEndpointAuthMethod: 'client_secret_basic',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: ['https://app.example.com/cb'],
    postLogoutRedirectUris: [],
    scopes: ['openid'],
    requireConsent: true,
    accessTokenTtl: 600,
    source: 'cli',
    createdAt: now,
    backchannelLogoutUri: null,
    corsOrigins: ['https://app.example.com'],
    requireDpop: false,
    requirePushedAuthorizationRequests: false,
    authentication: { jwksUri: 'https://app.example.com/jwks', tlsClientCertificateBoundAccessTokens: true },
    tokenExchange: { audiences: ['api1'] },
    profile: 'fapi2',
    refreshTokenLifetime: { absolute: 86400, idle: null },
  };
}

/** The pending state a device code or a CIBA request starts in, for `clientId`, expiring in `lifetime` s. */
function pendingAuthorization(
  clientId: string,
  lifetime: number,
): PolledAuthorization & { createdAt: number } {
  return {
    clientId,
    scope: ['openid'],
    resources: [],
    interval: 5,
    expiresAt: now + lifetime,
    lastPolledAt: null,
    status: 'pending',
    userId: null,
    authTime: null,
    amr: null,
    sid: null,
    createdAt: now,
  };
}

function deviceCode(hash: string, userCode: string): DeviceCode {
  return { deviceCodeHash: hash, userCode, ...pendingAuthorization('tv', 600) };
}

function backchannelRequest(hash: string, approvalHash: string): BackchannelAuthenticationRequest {
  return {
    ...pendingAuthorization('teller', 300),
    authReqIdHash: hash,
    approvalHash,
    hintedUserId: 'u1',
    acrValues: ['urn:example:acr'],
    bindingMessage: 'TX 42',
    deliveryMode: 'ping',
    clientNotificationToken: 'notification-token',
    pingAuthReqId: 'plain-auth-req-id',
  };
}

function key(kid: string, notBefore: number): SigningKeyRecord {
  return {
    kid,
    alg: 'ES256',
    privateJwk: `{"kid":"${kid}"}`,
    publicJwk: `{"kid":"${kid}"}`,
    createdAt: now,
    notBefore,
    retiredAt: null,
    expiresAt: null,
  };
}

describe.each(backendNames)('storage conformance on %s', (backend: BackendName) => {
  const store = freshStore(backend);
  let storage: Storage;
  /** A second connection (pool) to the same store, standing for another server process or node. */
  let other: Storage;
  beforeAll(async () => {
    if (backend === 'postgres') await requireService('postgres');
    // Both open at once on an empty store: migrating must be safe when nodes start together.
    [storage, other] = await Promise.all([openStorage(store.options), openStorage(store.options)]);
  });
  afterAll(async () => {
    await storage?.close();
    await other?.close();
    await store.drop();
  });

  it('creates every table and reports its dialect', async () => {
    expect(storage.dialect).toBe(backend);
    const tables = await databaseOf(storage).introspection.getTables();
    expect(tables.map((table) => table.name)).toEqual(
      expect.arrayContaining([
        'clients',
        'users',
        'sessions',
        'interactions',
        'consents',
        'grants',
        'authorization_codes',
        'refresh_tokens',
        'signing_keys',
        'device_codes',
        'backchannel_requests',
        'access_tokens',
        'revoked_tokens',
        'pushed_authorization_requests',
        'known_browsers',
        'upstream_identities',
        'upstream_logins',
        'upstream_pending_links',
        'upstream_sessions',
        'mfa_totp',
        'mfa_recovery_codes',
        'webauthn_credentials',
        'webauthn_challenges',
        'gatehouse_changes',
        'api_scopes',
        'api_resources',
      ]),
    );
  });

  describe('API catalog', () => {
    it('stores, replaces and removes API scopes and resources, and moves the version another connection reads', async () => {
      const before = await other.catalogVersion();
      await storage.apiCatalog.saveScope({ name: 'orders.read', description: 'Read orders', createdAt: 10 });
      await storage.apiCatalog.saveScope({ name: 'orders.write', description: 'Write', createdAt: 11 });
      await storage.apiCatalog.saveScope({
        name: 'orders.write',
        description: 'Write orders',
        createdAt: 11,
      });
      const definition = { id: 'orders', uris: ['https://orders.example'], scopes: ['orders.read'] };
      await storage.apiCatalog.saveResource({ id: 'orders', definition, secretHash: 'h1', createdAt: 12 });
      await nextTurn();
      expect(await other.catalogVersion()).not.toBe(before);
      expect(await other.apiCatalog.scopes()).toEqual([
        { name: 'orders.read', description: 'Read orders', createdAt: 10 },
        { name: 'orders.write', description: 'Write orders', createdAt: 11 },
      ]);
      const replaced = { ...definition, scopes: ['orders.read', 'orders.write'] };
      await other.apiCatalog.saveResource({
        id: 'orders',
        definition: replaced,
        secretHash: null,
        createdAt: 12,
      });
      expect(await storage.apiCatalog.resources()).toEqual([
        { id: 'orders', definition: replaced, secretHash: null, createdAt: 12 },
      ]);
      await nextTurn();
      const afterSave = await other.catalogVersion();
      expect(await storage.apiCatalog.removeResource('orders')).toBe(true);
      expect(await storage.apiCatalog.removeResource('orders')).toBe(false);
      expect(await storage.apiCatalog.removeScope('orders.write')).toBe(true);
      expect(await storage.apiCatalog.removeScope('nul\u0000name')).toBe(false);
      await nextTurn();
      expect(await other.catalogVersion()).not.toBe(afterSave);
      expect(await other.apiCatalog.resources()).toEqual([]);
      expect((await other.apiCatalog.scopes()).map((scope) => scope.name)).toEqual(['orders.read']);
      expect(await storage.apiCatalog.removeScope('orders.read')).toBe(true);
    });
  });

  describe('clients', () => {
    it('saves, replaces, lists, updates the secret and removes, with types intact', async () => {
      await storage.clients.save(client('client-b'));
      await storage.clients.save(client('client-a'));
      expect(await storage.clients.find('client-a')).toEqual(client('client-a'));
      await storage.clients.save({
        ...client('client-a', 'Renamed'),
        requireConsent: false,
        accessTokenTtl: null,
      });
      expect(await storage.clients.find('client-a')).toEqual({
        ...client('client-a', 'Renamed'),
        requireConsent: false,
        accessTokenTtl: null,
      });
      expect((await storage.clients.list()).map((found) => found.clientId)).toEqual(
        expect.arrayContaining(['client-a', 'client-b']),
      );
      const overlapping = [
        { hash: 'hash-2', expiresAt: null },
        { hash: 'hash-1', expiresAt: now + 86400 },
      ];
      expect(await storage.clients.updateSecrets('client-a', overlapping)).toBe(true);
      expect((await storage.clients.find('client-a'))?.secrets).toEqual(overlapping);
      expect(await storage.clients.updateSecrets('nobody', overlapping)).toBe(false);
      await storage.clients.save({
        ...client('client-a'),
        secrets: [],
        refreshTokenLifetime: { absolute: null, idle: null },
      });
      expect(await storage.clients.find('client-a')).toMatchObject({
        secrets: [],
        refreshTokenLifetime: { absolute: null, idle: null },
      });
      expect(await storage.clients.remove('client-b')).toBe(true);
      expect(await storage.clients.remove('client-b')).toBe(false);
      expect(await storage.clients.find('client-b')).toBeUndefined();
    });

    it('keeps a registration access token hash, replaced only from the hash it had (0016_registration)', async () => {
      await storage.clients.save({ ...client('registered'), source: 'registration' });
      expect(await storage.clients.registrationTokenHash('registered')).toBeUndefined();
      expect(await storage.clients.setRegistrationTokenHash('registered', 'rat-1', 'other')).toBe(false);
      expect(await storage.clients.setRegistrationTokenHash('registered', 'rat-1', null)).toBe(true);
      expect(await storage.clients.setRegistrationTokenHash('registered', 'rat-2', null)).toBe(false);
      expect(await storage.clients.setRegistrationTokenHash('registered', 'rat-2', 'rat-1')).toBe(true);
      expect(await storage.clients.setRegistrationTokenHash('registered', 'rat-3', 'rat-1')).toBe(false);
      // Saving the client again (an update of its metadata) leaves the hash alone.
      await storage.clients.save({ ...client('registered', 'Renamed'), source: 'registration' });
      expect(await storage.clients.registrationTokenHash('registered')).toBe('rat-2');
      expect((await storage.clients.find('registered'))?.source).toBe('registration');
      expect(await storage.clients.setRegistrationTokenHash('nobody', 'rat', null)).toBe(false);
    });

    it('disables and enables a client, seen by another connection from the next turn; a save keeps it (0019_client_disabled)', async () => {
      await storage.clients.save(client('suspended'));
      expect((await other.findClient('suspended'))?.disabledAt).toBeUndefined();
      expect(await storage.clients.setDisabled('suspended', now)).toBe(true);
      await nextTurn();
      expect((await other.findClient('suspended'))?.disabledAt).toBe(now);
      // Saving the client again (an operator's replacement, the config seed) leaves it disabled.
      await storage.clients.save(client('suspended', 'Renamed'));
      expect(await storage.clients.find('suspended')).toEqual({
        ...client('suspended', 'Renamed'),
        disabledAt: now,
      });
      expect(await other.clients.setDisabled('suspended', null)).toBe(true);
      await nextTurn();
      expect(await storage.findClient('suspended')).toEqual(client('suspended', 'Renamed'));
      expect(await storage.clients.setDisabled('nobody', now)).toBe(false);
    });

    it('serves cached clients but never one changed by another connection in an earlier turn', async () => {
      await storage.clients.save(client('cached'));
      expect((await storage.findClient('cached'))?.name).toBe('A client');
      await other.clients.save(client('cached', 'Changed elsewhere'));
      await nextTurn();
      expect((await storage.findClient('cached'))?.name).toBe('Changed elsewhere');
      await other.clients.remove('cached');
      await nextTurn();
      expect(await storage.findClient('cached')).toBeUndefined();
      expect(await storage.findClient('never-registered')).toBeUndefined();
    });
  });

  describe('users, sessions, interactions, consents', () => {
    it('creates users once per username and finds them', async () => {
      const user = {
        id: 'u1',
        username: 'carol',
        passwordHash: 'h',
        claims: { name: 'Carol' },
        roles: ['r'],
        disabledAt: null,
      };
      expect(await storage.users.create(user, now)).toBe(true);
      expect(await storage.users.create({ ...user, id: 'u2' }, now)).toBe(false);
      expect(await storage.users.findById('u1')).toEqual(user);
      expect(await storage.users.findByUsername('carol')).toEqual(user);
      expect(await storage.users.findByUsername('nobody')).toBeUndefined();
      expect((await storage.users.list()).map((found) => found.username)).toContain('carol');
    });

    it('finds only live login sessions, re-authenticates and ends them once', async () => {
      const session = { sid: 'sid-1', userId: 'u', authTime: now, amr: ['pwd'], expiresAt: now + 100 };
      await storage.sessions.create('session-hash', session, now);
      expect(await storage.sessions.findActive('session-hash', now + 99)).toEqual(session);
      expect(await storage.sessions.findActive('session-hash', now + 100)).toBeUndefined();
      expect(
        await storage.sessions.reauthenticate(
          'session-hash',
          'session-hash-2',
          { authTime: now + 5, amr: ['pwd', 'otp'], expiresAt: now + 200 },
          now + 5,
        ),
      ).toBe(true);
      expect(await storage.sessions.findActive('session-hash', now + 6)).toBeUndefined();
      expect(await storage.sessions.findActive('session-hash-2', now + 150)).toEqual({
        sid: 'sid-1',
        userId: 'u',
        authTime: now + 5,
        amr: ['pwd', 'otp'],
        expiresAt: now + 200,
      });
      expect(await storage.sessions.endBySid('sid-1', now + 7)).toBe(true);
      expect(await storage.sessions.endBySid('sid-1', now + 7)).toBe(false);
      expect(await storage.sessions.findActive('session-hash-2', now + 8)).toBeUndefined();
      expect(
        await storage.sessions.reauthenticate(
          'session-hash-2',
          'x',
          { authTime: now, amr: [], expiresAt: now + 300 },
          now + 9,
        ),
      ).toBe(false);
      await storage.sessions.create('other-hash', { ...session, sid: 'sid-2' }, now);
      await storage.sessions.end('other-hash', now + 1);
      expect(await storage.sessions.findActive('other-hash', now + 2)).toBeUndefined();
    });

    it('resets a password hash, and pages live sessions by sid, of one user or all (admin API)', async () => {
      const user = {
        id: 'u-pw',
        username: 'dora',
        passwordHash: 'old',
        claims: {},
        roles: [],
        disabledAt: null,
      };
      expect(await storage.users.create(user, now)).toBe(true);
      expect(await storage.users.setPasswordHash('u-pw', 'new', now + 1)).toBe(true);
      expect((await storage.users.findById('u-pw'))?.passwordHash).toBe('new');
      expect(await storage.users.setPasswordHash('nobody', 'new', now)).toBe(false);

      const live = (sid: string, userId: string) => ({
        sid,
        userId,
        authTime: now,
        amr: ['pwd'],
        expiresAt: now + 100,
      });
      for (const [sid, userId] of [
        ['page-s3', 'pager'],
        ['page-s1', 'pager'],
        ['page-s2', 'other'],
        ['page-s4', 'pager'],
      ])
        await storage.sessions.create(`hash-${sid}`, live(sid!, userId!), now);
      await storage.sessions.endBySid('page-s4', now);
      const firstPage = await storage.sessions.listLive({ userId: 'pager' }, now, {
        after: undefined,
        limit: 1,
      });
      expect(firstPage.map((found) => found.sid)).toEqual(['page-s1']);
      const rest = await storage.sessions.listLive({ userId: 'pager' }, now, { after: 'page-s1', limit: 10 });
      expect(rest.map((found) => found.sid)).toEqual(['page-s3']);
      const all = await storage.sessions.listLive({}, now, { after: 'page-', limit: 10 });
      // Other tests' sessions may follow in sid order; these come first and in order.
      expect(all.map((found) => found.sid).filter((sid) => sid.startsWith('page-'))).toEqual([
        'page-s1',
        'page-s2',
        'page-s3',
      ]);
      const expired = await storage.sessions.listLive({ userId: 'pager' }, now + 100, {
        after: undefined,
        limit: 10,
      });
      expect(expired).toEqual([]);
      expect(await storage.sessions.findLiveBySid('page-s2', now)).toEqual(live('page-s2', 'other'));
      expect(await storage.sessions.findLiveBySid('page-s4', now)).toBeUndefined();
      expect(await storage.sessions.findLiveBySid('page-s2', now + 100)).toBeUndefined();
    });

    it('keeps an interaction until it expires, attaches a session and completes it once', async () => {
      const request = {
        clientId: 'c',
        redirectUri: 'x',
        scopes: ['openid'],
        resources: [],
        state: 'st',
        nonce: undefined,
        codeChallenge: 'x',
        prompt: ['login'],
        maxAge: 60,
        loginHint: undefined,
      };
      await storage.interactions.create(
        {
          id: 'i1',
          csrfToken: 't',
          browserHash: 'b',
          clientId: 'c',
          request,
          sessionSid: null,
          expiresAt: now + 10,
          completedAt: null,
        },
        now,
      );
      await storage.interactions.attachSession('i1', 'sid-9');
      const found = await storage.interactions.findPending('i1', now);
      expect(found).toMatchObject({
        csrfToken: 't',
        browserHash: 'b',
        sessionSid: 'sid-9',
        expiresAt: now + 10,
      });
      expect(found?.request).toEqual({
        clientId: 'c',
        redirectUri: 'x',
        scopes: ['openid'],
        resources: [],
        state: 'st',
        codeChallenge: 'x',
        prompt: ['login'],
        maxAge: 60,
      });
      expect(await storage.interactions.findPending('i1', now + 10)).toBeUndefined();
      const attempts = await Promise.all([1, 2, 3, 4].map(() => storage.interactions.complete('i1', now)));
      expect(attempts.filter(Boolean)).toHaveLength(1);
      expect(await storage.interactions.findPending('i1', now)).toBeUndefined();
    });

    it('replaces consent per user and client and forgets a removed client', async () => {
      await storage.consents.save('u', 'c', ['openid'], now);
      await storage.consents.save('u', 'c', ['openid', 'profile'], now);
      await storage.consents.save('u', 'd', ['openid'], now);
      expect(await storage.consents.find('u', 'c')).toEqual(['openid', 'profile']);
      expect(await storage.consents.find('u', 'other')).toEqual([]);
      await storage.consents.removeForClient('c');
      expect(await storage.consents.find('u', 'c')).toEqual([]);
      expect(await storage.consents.find('u', 'd')).toEqual(['openid']);
    });

    it("lists a user's consents and forgets one user's consent to one client", async () => {
      await storage.consents.save('lu', 'c2', ['openid', 'email'], now);
      await storage.consents.save('lu', 'c1', ['openid'], now + 5);
      await storage.consents.save('other-user', 'c1', ['openid'], now);
      expect(await storage.consents.listForUser('lu')).toEqual([
        { clientId: 'c1', scopes: ['openid'], updatedAt: now + 5 },
        { clientId: 'c2', scopes: ['openid', 'email'], updatedAt: now },
      ]);
      expect(await storage.consents.listForUser('nobody')).toEqual([]);
      expect(await storage.consents.remove('lu', 'c1')).toBe(true);
      expect(await storage.consents.remove('lu', 'c1')).toBe(false);
      expect(await storage.consents.find('lu', 'c1')).toEqual([]);
      expect(await storage.consents.find('other-user', 'c1')).toEqual(['openid']);
      expect((await storage.consents.listForUser('lu')).map((consent) => consent.clientId)).toEqual(['c2']);
    });

    it('knows a browser for one user until it expires, and extends it', async () => {
      expect(await storage.knownBrowsers.isKnown('kb-1', 'u', now)).toBe(false);
      await storage.knownBrowsers.remember('kb-1', 'u', now + 100, now);
      expect(await storage.knownBrowsers.isKnown('kb-1', 'u', now)).toBe(true);
      expect(await other.knownBrowsers.isKnown('kb-1', 'u', now)).toBe(true);
      expect(await storage.knownBrowsers.isKnown('kb-1', 'someone-else', now)).toBe(false);
      expect(await storage.knownBrowsers.isKnown('kb-2', 'u', now)).toBe(false);
      expect(await storage.knownBrowsers.isKnown('kb-1', 'u', now + 100)).toBe(false);
      await storage.knownBrowsers.remember('kb-1', 'u', now + 500, now + 50);
      expect(await storage.knownBrowsers.isKnown('kb-1', 'u', now + 100)).toBe(true);
    });
  });

  describe('upstream identities and sign-ins (0017_upstream)', () => {
    const login = (stateHash: string, expiresAt = now + 600) => ({
      stateHash,
      upstreamId: 'corp',
      interactionId: 'interaction-1',
      nonce: 'nonce-1',
      codeVerifier: 'v'.repeat(43),
      redirectUri: 'https://gatehouse.example.com/upstream/corp/callback',
      expiresAt,
    });

    it('takes an upstream sign-in once, on either connection, never after it expires', async () => {
      await storage.upstreams.createLogin(login('state-1'), now);
      expect(await other.upstreams.takeLogin('state-1', now)).toEqual(login('state-1'));
      expect(await storage.upstreams.takeLogin('state-1', now)).toBeUndefined();
      await storage.upstreams.createLogin(login('state-2', now + 10), now);
      expect(await storage.upstreams.takeLogin('state-2', now + 10)).toBeUndefined();
      expect(await storage.upstreams.takeLogin('state-2', now)).toBeUndefined();
      expect(await storage.upstreams.takeLogin('unknown\u0000', now)).toBeUndefined();
    });

    it('lets exactly one of many concurrent callbacks take a sign-in', async () => {
      await storage.upstreams.createLogin(login('state-race'), now);
      const taken = await Promise.all(
        Array.from({ length: 8 }, (_, index) =>
          (index % 2 ? other : storage).upstreams.takeLogin('state-race', now),
        ),
      );
      expect(taken.filter((found) => found !== undefined)).toHaveLength(1);
    });

    it('links an upstream subject to one account, once, and forgets it with the account', async () => {
      expect(await storage.upstreams.findLinkedUser('corp', 'upstream-sub')).toBeUndefined();
      expect(await storage.upstreams.link('corp', 'upstream-sub', 'u-linked', now)).toBe(true);
      expect(await storage.upstreams.link('corp', 'upstream-sub', 'someone-else', now)).toBe(false);
      expect(await other.upstreams.findLinkedUser('corp', 'upstream-sub')).toBe('u-linked');
      expect(await storage.upstreams.findLinkedUser('other-idp', 'upstream-sub')).toBeUndefined();
      expect(await storage.upstreams.findLinkedUser('corp', 'upstream-sub\u0000')).toBeUndefined();
      await storage.users.create(
        { id: 'u-linked', username: 'linked', passwordHash: 'x', claims: {}, roles: [], disabledAt: null },
        now,
      );
      expect(await storage.users.remove('u-linked')).toBe(true);
      expect(await storage.upstreams.findLinkedUser('corp', 'upstream-sub')).toBeUndefined();
    });

    describe('pending links and session context (0021_upstream_linking)', () => {
      const pending = (interactionId: string, expiresAt = now + 600) => ({
        interactionId,
        upstreamId: 'corp',
        upstreamSubject: 'upstream-sub-2',
        upstreamSid: 'upstream-sid-2',
        upstreamAmr: ['pwd', 'mfa'],
        upstreamAcr: 'urn:corp:mfa',
        offeredUserId: null,
        provenUserId: null,
        expiresAt,
      });

      it('keeps one pending link per interaction, records the proven account and is taken once', async () => {
        await storage.upstreams.savePendingLink(pending('i-link'), now);
        await storage.upstreams.savePendingLink({ ...pending('i-link'), offeredUserId: 'u-offered' }, now);
        expect(await other.upstreams.findPendingLink('i-link', now)).toEqual({
          ...pending('i-link'),
          offeredUserId: 'u-offered',
        });
        expect(await storage.upstreams.provePendingLink('i-link', 'u-proven', now)).toBe(true);
        expect(await storage.upstreams.provePendingLink('i-missing', 'u-proven', now)).toBe(false);
        const taken = await Promise.all(
          Array.from({ length: 6 }, (_, index) =>
            (index % 2 ? other : storage).upstreams.takePendingLink('i-link', now),
          ),
        );
        expect(taken.filter((found) => found !== undefined)).toEqual([
          { ...pending('i-link'), offeredUserId: 'u-offered', provenUserId: 'u-proven' },
        ]);
        expect(await storage.upstreams.findPendingLink('i-link', now)).toBeUndefined();
        expect(await storage.upstreams.findPendingLink('i-link\u0000', now)).toBeUndefined();
      });

      it('never gives out an expired pending link, and sweeps it', async () => {
        await storage.upstreams.savePendingLink(pending('i-old', now + 10), now);
        expect(await storage.upstreams.findPendingLink('i-old', now + 10)).toBeUndefined();
        expect(await storage.upstreams.provePendingLink('i-old', 'u', now + 10)).toBe(false);
        expect(await storage.upstreams.takePendingLink('i-old', now + 10)).toBeUndefined();
        await storage.upstreams.savePendingLink(pending('i-sweep', now + 5), now);
        await sweepExpired(storage, now + 6);
        expect(
          await databaseOf(storage).selectFrom('upstream_pending_links').select('interaction_id').execute(),
        ).not.toContainEqual({ interaction_id: 'i-sweep' });
      });

      it("keeps a session's upstream sign-in through a step-up, and clears it when asked", async () => {
        const upstream = { id: 'corp', amr: ['pwd', 'mfa'], acr: 'urn:corp:mfa' };
        const session = {
          sid: 'sid-up',
          userId: 'u',
          authTime: now,
          amr: ['fed'],
          expiresAt: now + 100,
          upstream,
        };
        await storage.sessions.create('up-hash', session, now);
        expect(await other.sessions.findActive('up-hash', now)).toEqual(session);
        const stepped = { authTime: now + 1, amr: ['fed', 'otp', 'mfa'], expiresAt: now + 100 };
        expect(await storage.sessions.reauthenticate('up-hash', 'up-hash-2', stepped, now + 1)).toBe(true);
        expect(await storage.sessions.findLiveBySid('sid-up', now + 1)).toEqual({ ...session, ...stepped });
        expect(
          await storage.sessions.reauthenticate(
            'up-hash-2',
            'up-hash-3',
            { authTime: now + 2, amr: ['pwd'], expiresAt: now + 100, upstream: null },
            now + 2,
          ),
        ).toBe(true);
        const found = await storage.sessions.findActive('up-hash-3', now + 2);
        expect(found?.upstream).toBeUndefined();
        expect(found?.amr).toEqual(['pwd']);
      });

      it('finds users by e-mail address, ASCII case aside, and nothing by a part of one', async () => {
        const user = (id: string, claims: Record<string, unknown>) => ({
          id,
          username: `email-${id}`,
          passwordHash: 'h',
          claims,
          roles: [],
          disabledAt: null,
        });
        await storage.users.create(user('em-1', { email: 'Erin@Example.com', name: 'Erin' }), now);
        await storage.users.create(user('em-2', { email: 'erin@example.com.evil' }), now);
        await storage.users.create(user('em-3', { nested: { email: 'erin@example.com' } }), now);
        await storage.users.create(user('em-4', { email: 'per%cent_@example.com' }), now);
        expect((await other.users.findByEmail('erin@EXAMPLE.com', 2)).map((found) => found.id)).toEqual([
          'em-1',
        ]);
        expect(await storage.users.findByEmail('erin@example', 2)).toEqual([]);
        expect(await storage.users.findByEmail('per_cent%@example.com', 2)).toEqual([]);
        expect((await storage.users.findByEmail('per%cent_@example.com', 2)).map((f) => f.id)).toEqual([
          'em-4',
        ]);
        expect(await storage.users.findByEmail('', 2)).toEqual([]);
        expect(await storage.users.findByEmail('a\u0000b', 2)).toEqual([]);
      });
    });

    it('sweeps expired upstream sign-ins', async () => {
      await storage.upstreams.createLogin(login('state-sweep', now + 5), now);
      await sweepExpired(storage, now + 6);
      expect(
        await databaseOf(storage).selectFrom('upstream_logins').select('state_hash').execute(),
      ).not.toContainEqual({ state_hash: 'state-sweep' });
    });
  });

  describe('sessions from upstream sign-ins (0022_upstream_sessions)', () => {
    const upstreamSession = (
      sid: string,
      sub: string,
      upstreamSid: string | null,
      expiresAt = now + 600,
    ) => ({
      sid,
      upstreamId: 'corp',
      upstreamSubject: sub,
      upstreamSid,
      idToken: `id-token-of-${sid}`,
      expiresAt,
    });

    it('records, replaces and finds the upstream of a session, never after it expires', async () => {
      await storage.upstreamSessions.record(upstreamSession('us-1', 'alice', 'up-sid-1'), now);
      expect(await other.upstreamSessions.find('us-1', now)).toEqual(
        upstreamSession('us-1', 'alice', 'up-sid-1'),
      );
      // A re-authentication keeps the local sid: the row is replaced.
      await storage.upstreamSessions.record(upstreamSession('us-1', 'alice', null, now + 900), now);
      expect(await storage.upstreamSessions.find('us-1', now)).toEqual(
        upstreamSession('us-1', 'alice', null, now + 900),
      );
      expect(await storage.upstreamSessions.find('us-1', now + 900)).toBeUndefined();
      expect(await storage.upstreamSessions.find('us-unknown\u0000', now)).toBeUndefined();
    });

    it('finds the sessions a logout token names by sid, by sub, or by both', async () => {
      await storage.upstreamSessions.record(upstreamSession('ls-1', 'bob', 'bob-up-1'), now);
      await storage.upstreamSessions.record(upstreamSession('ls-2', 'bob', 'bob-up-2'), now);
      await storage.upstreamSessions.record(upstreamSession('ls-3', 'bob', 'bob-up-2'), now);
      await storage.upstreamSessions.record(upstreamSession('ls-4', 'carol', 'carol-up', now + 5), now);
      const find = (names: { sub?: string; sid?: string }, at = now) =>
        other.upstreamSessions.findSids('corp', { sub: names.sub, sid: names.sid }, at);
      expect(await find({ sid: 'bob-up-2' })).toEqual(['ls-2', 'ls-3']);
      expect(await find({ sub: 'bob' })).toEqual(['ls-1', 'ls-2', 'ls-3']);
      expect(await find({ sub: 'bob', sid: 'bob-up-1' })).toEqual(['ls-1']);
      expect(await find({ sub: 'carol', sid: 'bob-up-1' })).toEqual([]);
      expect(await find({})).toEqual([]);
      expect(await find({ sub: 'carol' }, now + 5)).toEqual([]);
      expect(
        await storage.upstreamSessions.findSids('other-idp', { sub: 'bob', sid: undefined }, now),
      ).toEqual([]);
      expect(await find({ sub: 'bob\u0000' })).toEqual([]);
    });

    it('counts the linked identities and unexpired sessions of each upstream', async () => {
      const of = (upstreamId: string, session: UpstreamSession) => ({ ...session, upstreamId });
      await storage.upstreams.link('counted-idp', 'sub-1', 'u-1', now);
      await storage.upstreams.link('counted-idp', 'sub-2', 'u-2', now);
      await storage.upstreamSessions.record(of('counted-idp', upstreamSession('cs-1', 'sub-1', null)), now);
      await storage.upstreamSessions.record(
        of('counted-idp', upstreamSession('cs-2', 'sub-1', null, now + 5)),
        now,
      );
      await storage.upstreamSessions.record(of('sessions-only-idp', upstreamSession('cs-3', 'x', null)), now);
      const usage = await other.upstreams.usageByUpstream(now + 5);
      expect(usage.get('counted-idp')).toEqual({ linkedIdentities: 2, sessions: 1 });
      expect(usage.get('sessions-only-idp')).toEqual({ linkedIdentities: 0, sessions: 1 });
    });

    it('sweeps expired rows', async () => {
      await storage.upstreamSessions.record(upstreamSession('sweep-us', 'dave', null, now + 5), now);
      await sweepExpired(storage, now + 6);
      expect(
        await databaseOf(storage).selectFrom('upstream_sessions').select('sid').execute(),
      ).not.toContainEqual({ sid: 'sweep-us' });
    });
  });

  describe('grants, codes and refresh tokens', () => {
    it('stores grants and lists them per login session', async () => {
      await storage.grants.create(grant('g-list-1', 'c', 'sid-list'));
      await storage.grants.create({ ...grant('g-list-2', 'c', 'sid-list'), createdAt: now + 1 });
      expect(await storage.grants.find('g-list-1')).toEqual(grant('g-list-1', 'c', 'sid-list'));
      expect((await storage.grants.listBySid('sid-list')).map((found) => found.id)).toEqual([
        'g-list-1',
        'g-list-2',
      ]);
      expect(await storage.grants.find('missing')).toBeUndefined();
    });

    it('pages active grants by id, of a user, a client or both (admin API)', async () => {
      const mine = (id: string, clientId: string, userId: string) => ({
        ...grant(id, clientId, null),
        userId,
      });
      await storage.grants.create(mine('pg-a', 'pg-client-1', 'pg-user'));
      await storage.grants.create(mine('pg-b', 'pg-client-2', 'pg-user'));
      await storage.grants.create(mine('pg-c', 'pg-client-1', 'pg-other'));
      await storage.grants.create(mine('pg-d', 'pg-client-1', 'pg-user'));
      await storage.grants.revoke('pg-d', now);
      const ids = async (filter: { userId?: string; clientId?: string }, after?: string, limit = 10) =>
        (await storage.grants.listActive(filter, { after, limit })).map((found) => found.id);
      expect(await ids({ userId: 'pg-user' })).toEqual(['pg-a', 'pg-b']);
      expect(await ids({ clientId: 'pg-client-1' })).toEqual(['pg-a', 'pg-c']);
      expect(await ids({ userId: 'pg-user', clientId: 'pg-client-1' })).toEqual(['pg-a']);
      expect(await ids({ userId: 'pg-user' }, undefined, 1)).toEqual(['pg-a']);
      expect(await ids({ userId: 'pg-user' }, 'pg-a', 1)).toEqual(['pg-b']);
    });

    it('stores codes and refresh tokens and consumes each exactly once, for its client, never after expiry', async () => {
      for (const id of ['g1', 'g2', 'g3']) await storage.grants.create(grant(id));
      await storage.authorizationCodes.create(code('code-1', 'g1'));
      expect(await storage.authorizationCodes.find('code-1')).toEqual(code('code-1', 'g1'));
      await storage.authorizationCodes.create(code('code-2', 'g2'));
      expect(await storage.authorizationCodes.consume('code-2', 'c', now + 60)).toBeUndefined();
      expect(await storage.authorizationCodes.consume('code-1', 'other', now + 1)).toBeUndefined();
      expect(await storage.authorizationCodes.consume('code-1', 'c', now + 1)).toEqual({
        ...code('code-1', 'g1'),
        consumedAt: now + 1,
      });
      expect(await storage.authorizationCodes.consume('code-1', 'c', now + 2)).toBeUndefined();
      expect((await storage.authorizationCodes.find('code-1'))?.consumedAt).toBe(now + 1);
      expect(await storage.authorizationCodes.consume('missing', 'c', now + 1)).toBeUndefined();

      await storage.refreshTokens.create(refresh('rt-1', 'g3'));
      expect(await storage.refreshTokens.find('rt-1')).toEqual(refresh('rt-1', 'g3'));
      expect(await storage.refreshTokens.consume('rt-1', 'c', now + 3600)).toBeUndefined();
      expect(await storage.refreshTokens.findRedeemable('rt-1', 'c', now + 3600)).toBeUndefined();
      expect(await storage.refreshTokens.consume('rt-1', 'other', now + 1)).toBeUndefined();
      expect(await storage.refreshTokens.findRedeemable('rt-1', 'other', now + 1)).toBeUndefined();
      // Finding a redeemable token does not use it up.
      expect(await storage.refreshTokens.findRedeemable('rt-1', 'c', now + 1)).toEqual(refresh('rt-1', 'g3'));
      expect(await storage.refreshTokens.consume('rt-1', 'c', now + 1)).toEqual({
        ...refresh('rt-1', 'g3'),
        consumedAt: now + 1,
      });
      expect(await storage.refreshTokens.consume('rt-1', 'c', now + 2)).toBeUndefined();
      expect(await storage.refreshTokens.findRedeemable('rt-1', 'c', now + 2)).toBeUndefined();
      expect(await storage.refreshTokens.find('missing')).toBeUndefined();
    });

    it('keeps a refresh token with a later idle expiry, never past its absolute expiry', async () => {
      await storage.grants.create(grant('g-keep'));
      await storage.refreshTokens.create(refresh('rt-keep', 'g-keep'));
      // Used at now + 100 with an idle lifetime of 1000 s: good until now + 1100.
      expect(await storage.refreshTokens.keep('rt-keep', 'c', now + 100, now + 1100)).toEqual({
        ...refresh('rt-keep', 'g-keep'),
        expiresAt: now + 1100,
      });
      expect((await storage.refreshTokens.find('rt-keep'))?.expiresAt).toBe(now + 1100);
      // Later uses slide it on, up to the absolute expiry (now + 7200) and no further.
      expect((await storage.refreshTokens.keep('rt-keep', 'c', now + 1000, now + 5000))?.expiresAt).toBe(
        now + 5000,
      );
      expect((await storage.refreshTokens.keep('rt-keep', 'c', now + 4000, now + 9000))?.expiresAt).toBe(
        now + 7200,
      );
      expect((await storage.refreshTokens.find('rt-keep'))?.consumedAt).toBeNull();
      // Another client's, an expired one or a used one is not kept, and its expiry does not move.
      expect(await storage.refreshTokens.keep('rt-keep', 'other', now + 4001, now + 5001)).toBeUndefined();
      expect(await storage.refreshTokens.keep('rt-keep', 'c', now + 7200, now + 8000)).toBeUndefined();
      expect((await storage.refreshTokens.find('rt-keep'))?.expiresAt).toBe(now + 7200);
      await storage.refreshTokens.create(refresh('rt-keep-used', 'g-keep'));
      await storage.refreshTokens.consume('rt-keep-used', 'c', now + 1);
      expect(await storage.refreshTokens.keep('rt-keep-used', 'c', now + 2, now + 1000)).toBeUndefined();
      expect((await storage.refreshTokens.find('rt-keep-used'))?.expiresAt).toBe(now + 3600);
    });

    it('redeems a code or refresh token only while its grant is live', async () => {
      // Revoking a grant also consumes its handles; these rows model a grant revoked (or missing) apart.
      await storage.grants.create(grant('g-dead'));
      await databaseOf(storage)
        .updateTable('grants')
        .set({ revoked_at: now })
        .where('id', '=', 'g-dead')
        .execute();
      await storage.authorizationCodes.create(code('code-dead', 'g-dead'));
      await storage.refreshTokens.create(refresh('rt-dead', 'g-dead'));
      await storage.refreshTokens.create(refresh('rt-orphan', 'g-missing'));
      expect(await storage.authorizationCodes.consume('code-dead', 'c', now + 1)).toBeUndefined();
      expect(await storage.refreshTokens.consume('rt-dead', 'c', now + 1)).toBeUndefined();
      expect(await storage.refreshTokens.findRedeemable('rt-dead', 'c', now + 1)).toBeUndefined();
      expect(await storage.refreshTokens.consume('rt-orphan', 'c', now + 1)).toBeUndefined();
      expect((await storage.authorizationCodes.find('code-dead'))?.consumedAt).toBeNull();
      expect((await storage.refreshTokens.find('rt-dead'))?.consumedAt).toBeNull();
    });

    it('revokes a grant and every live code and refresh token of its family, and nothing else', async () => {
      await storage.grants.create(grant('g4'));
      await storage.refreshTokens.create(refresh('rt-2', 'g4'));
      await storage.refreshTokens.create(refresh('rt-3', 'g4'));
      await storage.authorizationCodes.create(code('code-3', 'g4'));
      await storage.grants.create(grant('g5'));
      await storage.refreshTokens.create(refresh('rt-other', 'g5'));
      expect(await storage.grants.revoke('g4', now + 5)).toBe(true);
      expect((await storage.grants.find('g4'))?.revokedAt).toBe(now + 5);
      expect((await storage.refreshTokens.find('rt-2'))?.consumedAt).toBe(now + 5);
      expect((await storage.authorizationCodes.find('code-3'))?.consumedAt).toBe(now + 5);
      expect(await storage.refreshTokens.consume('rt-2', 'c', now + 6)).toBeUndefined();
      expect(await storage.refreshTokens.consume('rt-3', 'c', now + 6)).toBeUndefined();
      expect(await storage.authorizationCodes.consume('code-3', 'c', now + 6)).toBeUndefined();
      expect(await storage.refreshTokens.consume('rt-other', 'c', now + 6)).toBeDefined();
      // Revoking again keeps the first revocation time, and says this call did not revoke it.
      expect(await storage.grants.revoke('g4', now + 50)).toBe(false);
      expect((await storage.grants.find('g4'))?.revokedAt).toBe(now + 5);
    });

    it('revokes every grant of a removed client', async () => {
      await storage.grants.create(grant('g-client-1', 'gone'));
      await storage.grants.create(grant('g-client-2', 'kept'));
      await storage.refreshTokens.create(refresh('rt-gone', 'g-client-1', 'gone'));
      await storage.refreshTokens.create(refresh('rt-kept', 'g-client-2', 'kept'));
      await storage.transaction((repositories) => repositories.grants.revokeAllForClient('gone', now + 1));
      expect((await storage.grants.find('g-client-1'))?.revokedAt).toBe(now + 1);
      expect((await storage.grants.find('g-client-2'))?.revokedAt).toBeNull();
      expect((await storage.refreshTokens.find('rt-gone'))?.consumedAt).toBe(now + 1);
      expect(await storage.refreshTokens.consume('rt-gone', 'gone', now + 2)).toBeUndefined();
      expect(await storage.refreshTokens.consume('rt-kept', 'kept', now + 2)).toBeDefined();
    });

    it('rolls back a transaction that fails half way', async () => {
      await expect(
        storage.transaction(async (repositories) => {
          await repositories.refreshTokens.create(refresh('rt-rollback', 'g6'));
          await repositories.grants.revoke('g6', now);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await storage.refreshTokens.find('rt-rollback')).toBeUndefined();
    });
  });

  describe('second factors (migration 0013_mfa)', () => {
    it('keeps a confirmed TOTP secret while a new one is pending, and confirms only the pending one', async () => {
      expect(await storage.mfa.findTotp('mfa-user')).toBeUndefined();
      await storage.mfa.startTotp('mfa-user', 'secret-1', now);
      expect(await storage.mfa.findTotp('mfa-user')).toEqual({
        userId: 'mfa-user',
        secret: null,
        confirmedAt: null,
        lastUsedStep: null,
        pendingSecret: 'secret-1',
        createdAt: now,
      });
      // Nothing confirmed: no step can be used yet.
      expect(await storage.mfa.useTotpStep('mfa-user', 10)).toBe(false);
      expect(await storage.mfa.confirmTotp('mfa-user', 'other', 10, now + 1)).toBe(false);
      expect(await storage.mfa.confirmTotp('mfa-user', 'secret-1', 10, now + 1)).toBe(true);
      expect(await storage.mfa.confirmTotp('mfa-user', 'secret-1', 10, now + 1)).toBe(false);
      await storage.mfa.startTotp('mfa-user', 'secret-2', now + 2);
      expect(await storage.mfa.findTotp('mfa-user')).toMatchObject({
        secret: 'secret-1',
        confirmedAt: now + 1,
        lastUsedStep: 10,
        pendingSecret: 'secret-2',
      });
    });

    it('uses each time step once and never an earlier one, with exactly one winner across connections', async () => {
      await storage.mfa.startTotp('mfa-race', 's', now);
      await storage.mfa.confirmTotp('mfa-race', 's', 100, now);
      expect(await storage.mfa.useTotpStep('mfa-race', 100)).toBe(false);
      expect(await storage.mfa.useTotpStep('mfa-race', 99)).toBe(false);
      const results = await Promise.all([
        storage.mfa.useTotpStep('mfa-race', 101),
        other.mfa.useTotpStep('mfa-race', 101),
        storage.mfa.useTotpStep('mfa-race', 101),
        other.mfa.useTotpStep('mfa-race', 101),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await storage.mfa.findTotp('mfa-race'))?.lastUsedStep).toBe(101);
      expect(await storage.mfa.removeTotp('mfa-race')).toBe(true);
      expect(await storage.mfa.findTotp('mfa-race')).toBeUndefined();
    });

    it('replaces recovery codes, uses each once (one winner across connections) and forgets them all', async () => {
      await storage.mfa.replaceRecoveryCodes('mfa-codes', ['h1', 'h2', 'h3'], now);
      expect(await storage.mfa.unusedRecoveryCodes('mfa-codes')).toBe(3);
      const results = await Promise.all([
        storage.mfa.useRecoveryCode('mfa-codes', 'h1', now),
        other.mfa.useRecoveryCode('mfa-codes', 'h1', now),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await storage.mfa.useRecoveryCode('mfa-codes', 'h1', now)).toBe(false);
      expect(await storage.mfa.useRecoveryCode('other-user', 'h2', now)).toBe(false);
      expect(await storage.mfa.unusedRecoveryCodes('mfa-codes')).toBe(2);
      await storage.mfa.replaceRecoveryCodes('mfa-codes', ['h4'], now);
      expect(await storage.mfa.useRecoveryCode('mfa-codes', 'h2', now)).toBe(false);
      expect(await storage.mfa.unusedRecoveryCodes('mfa-codes')).toBe(1);
      await storage.mfa.startTotp('mfa-codes', 's', now);
      await storage.mfa.removeAll('mfa-codes');
      expect(await storage.mfa.unusedRecoveryCodes('mfa-codes')).toBe(0);
      expect(await storage.mfa.findTotp('mfa-codes')).toBeUndefined();
    });

    const passkey = (credentialId: string, userId: string, createdAt = now) =>
      storedPasskey(credentialId, userId, {
        transports: ['internal', 'hybrid'],
        backupEligible: true,
        discoverable: true,
        nickname: 'Laptop',
        createdAt,
      });

    it('stores several WebAuthn credentials per account, each id once, and removes them (0018_webauthn)', async () => {
      expect(await storage.webauthn.addCredential(passkey('cred-a', 'wa-user'))).toBe(true);
      expect(
        await storage.webauthn.addCredential({ ...passkey('cred-b', 'wa-user', now + 1), transports: [] }),
      ).toBe(true);
      // A credential id belongs to one account: registering it again (for anyone) is refused.
      expect(await other.webauthn.addCredential(passkey('cred-a', 'wa-other'))).toBe(false);
      expect(await storage.webauthn.findCredential('cred-a')).toEqual(passkey('cred-a', 'wa-user'));
      expect(await storage.webauthn.findCredential('cred-\u0000')).toBeUndefined();
      expect(
        (await storage.webauthn.listCredentials('wa-user')).map((c) => [c.credentialId, c.transports]),
      ).toEqual([
        ['cred-a', ['internal', 'hybrid']],
        ['cred-b', []],
      ]);
      expect(await storage.webauthn.listCredentials('wa-other')).toEqual([]);
      expect(await storage.webauthn.removeCredential('wa-other', 'cred-a')).toBe(false);
      expect(await storage.webauthn.removeCredential('wa-user', 'cred-a')).toBe(true);
      expect(await storage.webauthn.removeCredential('wa-user', 'cred-a')).toBe(false);
      await storage.webauthn.addCredential(passkey('cred-c', 'wa-user'));
      expect(await storage.webauthn.removeAll('wa-user')).toBe(2);
      expect(await storage.webauthn.listCredentials('wa-user')).toEqual([]);
    });

    it('records a use only with a higher signature counter, one winner across connections', async () => {
      await storage.webauthn.addCredential(passkey('cred-count', 'wa-count'));
      // Counter 0 stays allowed while the authenticator keeps none (WebAuthn §6.1.1).
      expect(await storage.webauthn.recordUse('cred-count', 0, true, now + 1)).toBe(true);
      expect(await storage.webauthn.findCredential('cred-count')).toMatchObject({
        counter: 0,
        backupState: true,
        lastUsedAt: now + 1,
      });
      const results = await Promise.all([
        storage.webauthn.recordUse('cred-count', 5, true, now + 2),
        other.webauthn.recordUse('cred-count', 5, true, now + 2),
        storage.webauthn.recordUse('cred-count', 5, true, now + 2),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await storage.webauthn.recordUse('cred-count', 5, false, now + 3)).toBe(false);
      expect(await storage.webauthn.recordUse('cred-count', 4, false, now + 3)).toBe(false);
      expect(await storage.webauthn.recordUse('cred-count', 0, false, now + 3)).toBe(false);
      expect(await storage.webauthn.recordUse('cred-unknown', 9, false, now + 3)).toBe(false);
      expect((await storage.webauthn.findCredential('cred-count'))?.counter).toBe(5);
    });

    it('takes a WebAuthn challenge once (one winner across connections) and never after its expiry', async () => {
      const challenge = {
        challengeHash: 'ch-1',
        purpose: 'authentication' as const,
        binding: 'interaction:i-1',
        userId: null,
        expiresAt: now + 300,
      };
      await storage.webauthn.createChallenge(challenge, now);
      await storage.webauthn.createChallenge(
        { ...challenge, challengeHash: 'ch-2', userId: 'wa-user', purpose: 'registration' },
        now,
      );
      await storage.webauthn.createChallenge(
        { ...challenge, challengeHash: 'ch-old', expiresAt: now - 1 },
        now - 301,
      );
      const taken = await Promise.all([
        storage.webauthn.takeChallenge('ch-1', now),
        other.webauthn.takeChallenge('ch-1', now),
      ]);
      expect(taken.filter((result) => result !== undefined)).toEqual([challenge]);
      expect(await storage.webauthn.takeChallenge('ch-1', now)).toBeUndefined();
      expect(await storage.webauthn.takeChallenge('ch-old', now)).toBeUndefined();
      expect(await storage.webauthn.takeChallenge('ch-\u0000', now)).toBeUndefined();
      expect(await storage.webauthn.takeChallenge('ch-2', now + 300)).toBeUndefined();
    });

    it('stores whether a client requires a second factor', async () => {
      await storage.clients.save({ ...client('mfa-client'), requireMfa: true });
      expect((await storage.clients.find('mfa-client'))?.requireMfa).toBe(true);
      await storage.clients.save(client('mfa-client'));
      expect((await storage.clients.find('mfa-client'))?.requireMfa).toBeUndefined();
    });

    it('stores the upstream providers a client offers, in order', async () => {
      await storage.clients.save({ ...client('idp-client'), upstreams: ['corp', 'github'] });
      expect((await storage.clients.find('idp-client'))?.upstreams).toEqual(['corp', 'github']);
      expect((await storage.clients.list()).find((c) => c.clientId === 'idp-client')?.upstreams).toEqual([
        'corp',
        'github',
      ]);
      await storage.clients.save(client('idp-client'));
      expect((await storage.clients.find('idp-client'))?.upstreams).toBeUndefined();
    });
  });

  describe('single use under concurrency (two connections, as two nodes)', () => {
    // Two SQLite connections in one thread cannot wait for each other (SQLite's busy wait is synchronous
    // and would stall the thread holding the lock), so on SQLite the races here run on one connection;
    // test/multi-node.test.ts races separate processes on one file.
    const pick = (index: number) => (index % 2 === 0 || backend === 'sqlite' ? storage : other);
    it('lets exactly one of many concurrent attempts consume a code, a refresh token, a device code', async () => {
      await storage.grants.create(grant('gr1'));
      await storage.grants.create(grant('gr2'));
      await storage.authorizationCodes.create(code('race-code', 'gr1'));
      await storage.refreshTokens.create(refresh('race-rt', 'gr2'));
      await storage.deviceCodes.create(deviceCode('race-device', 'RACE-CODE'));
      await storage.deviceCodes.decide('RACE-CODE', now, {
        status: 'approved',
        userId: 'u',
        authTime: now,
        amr: ['pwd'],
        sid: 's',
      });
      const attempts = <T>(run: (store: Storage) => Promise<T>) =>
        Promise.all(Array.from({ length: 24 }, (_, index) => run(pick(index))));
      const [codes, tokens, devices] = await Promise.all([
        attempts((store) => store.authorizationCodes.consume('race-code', 'c', now + 1)),
        attempts((store) => store.refreshTokens.consume('race-rt', 'c', now + 1)),
        attempts((store) => store.deviceCodes.consume('race-device', now + 1)),
      ]);
      expect(codes.filter(Boolean)).toHaveLength(1);
      expect(tokens.filter(Boolean)).toHaveLength(1);
      expect(devices.filter(Boolean)).toHaveLength(1);
      expect((await other.deviceCodes.findByHash('race-device'))?.status).toBe('consumed');
    });

    it('rotates once and revokes the family in the losers own transactions (redeem-once shape)', async () => {
      await storage.grants.create(grant('g-rotate'));
      await storage.refreshTokens.create(refresh('rotate-1', 'g-rotate'));
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, index) =>
          pick(index).transaction(async (repositories) => {
            if (!(await repositories.refreshTokens.consume('rotate-1', 'c', now + 1))) {
              await repositories.grants.revoke('g-rotate', now + 1);
              return 'reuse';
            }
            await repositories.refreshTokens.create(refresh(`rotate-2-${index}`, 'g-rotate'));
            return 'rotated';
          }),
        ),
      );
      expect(outcomes.filter((outcome) => outcome === 'rotated')).toHaveLength(1);
      expect((await storage.grants.find('g-rotate'))?.revokedAt).toBe(now + 1);
      const children = await databaseOf(storage)
        .selectFrom('refresh_tokens')
        .select(['token_hash', 'consumed_at'])
        .where('grant_id', '=', 'g-rotate')
        .execute();
      // One new token was written, and the revocation that followed consumed it.
      expect(children).toHaveLength(2);
      expect(children.every((row) => row.consumed_at === now + 1)).toBe(true);
    });

    it('tells exactly one of many concurrent revocations of a grant that it revoked it (admin If-Match)', async () => {
      await storage.grants.create(grant('g-raced'));
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, index) => pick(index).grants.revoke('g-raced', now + 1)),
      );
      expect(outcomes.filter(Boolean)).toHaveLength(1);
    });

    it('runs exclusive jobs one at a time', async () => {
      const log: string[] = [];
      await Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          pick(index).exclusive('test-job', async (repositories) => {
            log.push('start');
            await repositories.users.findById('u1');
            await new Promise((resolve) => setTimeout(resolve, 20));
            log.push('end');
          }),
        ),
      );
      expect(log).toEqual(Array.from({ length: 6 }, () => ['start', 'end']).flat());
    });
  });

  describe('backchannel (CIBA) requests', () => {
    const approval: DeviceCodeDecision = {
      status: 'approved',
      userId: 'u1',
      authTime: now,
      amr: ['pwd'],
      sid: 's',
    };

    it('finds a request by both hashes, records polls and decides it once', async () => {
      await storage.backchannelRequests.create(backchannelRequest('ar-1', 'ap-1'));
      expect(await storage.backchannelRequests.findByHash('ar-1')).toEqual(
        backchannelRequest('ar-1', 'ap-1'),
      );
      expect((await storage.backchannelRequests.findByApprovalHash('ap-1'))?.authReqIdHash).toBe('ar-1');
      expect(await storage.backchannelRequests.findByHash('ap-1')).toBeUndefined();
      expect(await storage.backchannelRequests.recordPoll('ar-1', now, null, 5)).toBe('ok');
      expect(await storage.backchannelRequests.recordPoll('ar-1', now + 2, now, 5)).toBe('slow_down');
      expect(await storage.backchannelRequests.findByHash('ar-1')).toMatchObject({
        interval: 10,
        lastPolledAt: now + 2,
      });
      expect(await storage.backchannelRequests.consume('ar-1', now + 3)).toBe(false);
      expect(await storage.backchannelRequests.decide('ap-1', now + 300, approval)).toBe(false);
      expect(await storage.backchannelRequests.decide('ap-1', now + 3, approval)).toBe(true);
      expect(await storage.backchannelRequests.decide('ap-1', now + 3, { status: 'denied' })).toBe(false);
      expect(await storage.backchannelRequests.findByHash('ar-1')).toMatchObject({
        status: 'approved',
        userId: 'u1',
        amr: ['pwd'],
        sid: 's',
      });
      expect(await storage.backchannelRequests.consume('ar-1', now + 300)).toBe(false);
      await storage.backchannelRequests.forgetPing('ar-1');
      expect(await storage.backchannelRequests.findByHash('ar-1')).toMatchObject({
        pingAuthReqId: null,
        clientNotificationToken: null,
      });
    });

    it('lets exactly one of many concurrent token requests consume an approved request', async () => {
      await storage.backchannelRequests.create(backchannelRequest('ar-race', 'ap-race'));
      await storage.backchannelRequests.decide('ap-race', now, approval);
      const pick = (index: number) => (index % 2 === 0 || backend === 'sqlite' ? storage : other);
      const outcomes = await Promise.all(
        Array.from({ length: 24 }, (_, index) =>
          pick(index).transaction((repositories) =>
            repositories.backchannelRequests.consume('ar-race', now + 1),
          ),
        ),
      );
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      expect((await other.backchannelRequests.findByHash('ar-race'))?.status).toBe('consumed');
    });

    it("keeps a client's CIBA metadata", async () => {
      const teller = {
        ...client('teller'),
        backchannelAuthentication: {
          tokenDeliveryMode: 'ping' as const,
          clientNotificationEndpoint: 'https://teller.example.com/cb',
        },
      };
      await storage.clients.save(teller);
      expect(await storage.clients.find('teller')).toEqual(teller);
    });
  });

  describe('device codes', () => {
    it('refuses a colliding user code and finds codes by hash and pending user code', async () => {
      expect(await storage.deviceCodes.create(deviceCode('dc-1', 'ABCD-EFGH'))).toBe(true);
      expect(await storage.deviceCodes.create(deviceCode('dc-2', 'ABCD-EFGH'))).toBe(false);
      expect(await storage.deviceCodes.findByHash('dc-1')).toEqual(deviceCode('dc-1', 'ABCD-EFGH'));
      expect((await storage.deviceCodes.findPendingByUserCode('ABCD-EFGH', now))?.deviceCodeHash).toBe(
        'dc-1',
      );
      expect(await storage.deviceCodes.findPendingByUserCode('ABCD-EFGH', now + 600)).toBeUndefined();
      expect(await storage.deviceCodes.findByHash('dc-2')).toBeUndefined();
    });

    it('slows down fast polling, decides once and consumes an approved code once', async () => {
      await storage.deviceCodes.create(deviceCode('dc-3', 'WXYZ-WXYZ'));
      expect(await storage.deviceCodes.recordPoll('dc-3', now, null, 5)).toBe('ok');
      expect(await storage.deviceCodes.recordPoll('dc-3', now + 2, now, 5)).toBe('slow_down');
      expect(await storage.deviceCodes.findByHash('dc-3')).toMatchObject({
        lastPolledAt: now + 2,
        interval: 10,
      });
      expect(await storage.deviceCodes.consume('dc-3', now + 3)).toBe(false);
      const approval = { status: 'approved' as const, userId: 'u', authTime: now, amr: ['pwd'], sid: 's' };
      expect(await storage.deviceCodes.decide('WXYZ-WXYZ', now + 3, approval)).toBe(true);
      expect(await storage.deviceCodes.decide('WXYZ-WXYZ', now + 3, { status: 'denied' })).toBe(false);
      expect(await storage.deviceCodes.findByHash('dc-3')).toMatchObject({
        status: 'approved',
        userId: 'u',
        authTime: now,
        amr: ['pwd'],
        sid: 's',
      });
      expect(await storage.deviceCodes.consume('dc-3', now + 600)).toBe(false);
      expect(await storage.deviceCodes.consume('dc-3', now + 4)).toBe(true);
      expect(await storage.deviceCodes.consume('dc-3', now + 4)).toBe(false);
      await storage.deviceCodes.create(deviceCode('dc-4', 'DENY-DENY'));
      expect(await storage.deviceCodes.decide('DENY-DENY', now + 600, { status: 'denied' })).toBe(false);
      expect(await storage.deviceCodes.decide('DENY-DENY', now, { status: 'denied' })).toBe(true);
      expect((await storage.deviceCodes.findByHash('dc-4'))?.status).toBe('denied');
    });
  });

  describe('signing keys, opaque access tokens, revocations', () => {
    it('lists published keys oldest first and retires all but one', async () => {
      await storage.signingKeys.create(key('k-new', now + 600));
      await storage.signingKeys.create(key('k-old', now));
      expect((await storage.signingKeys.listPublished(now)).map((found) => found.kid)).toEqual([
        'k-old',
        'k-new',
      ]);
      await storage.signingKeys.retireOthers('k-new', now + 600, now + 2000);
      const published = await storage.signingKeys.listPublished(now + 1999);
      expect(published).toEqual([
        { ...key('k-old', now), retiredAt: now + 600, expiresAt: now + 2000 },
        key('k-new', now + 600),
      ]);
      expect((await storage.signingKeys.listPublished(now + 2000)).map((found) => found.kid)).toEqual([
        'k-new',
      ]);
    });

    it('stores opaque access tokens by hash', async () => {
      const token = {
        tokenHash: 'at-1',
        jti: 'jti-1',
        grantId: 'g1',
        clientId: 'c',
        subject: 'u',
        scope: 'openid orders.read',
        audience: ['orders-api'],
        authTime: now,
        roles: ['OrderAdmin'],
        expiresAt: now + 600,
        createdAt: now,
        cnf: { jkt: 'j'.repeat(43) },
      };
      await storage.accessTokens.create(token);
      await storage.accessTokens.create({
        ...token,
        tokenHash: 'at-2',
        jti: 'jti-2',
        grantId: null,
        authTime: null,
        roles: null,
        cnf: null,
      });
      expect(await storage.accessTokens.find('at-1')).toEqual(token);
      expect(await storage.accessTokens.find('at-2')).toMatchObject({
        grantId: null,
        authTime: null,
        roles: null,
      });
      expect(await storage.accessTokens.find('missing')).toBeUndefined();
    });

    it('lists live revocations and sees revocations made by another connection from the next turn', async () => {
      await storage.grants.create(grant('g-live'));
      expect(await storage.isAccessTokenRevoked('jti-live', 'g-live', now)).toBe(false);
      await other.revocations.revokeJti('jti-live', now + 600);
      await other.revocations.revokeJti('jti-live', now + 600);
      await nextTurn();
      expect(await storage.isAccessTokenRevoked('jti-live', undefined, now)).toBe(true);
      expect(await storage.isAccessTokenRevoked('jti-unrelated', 'g-live', now)).toBe(false);
      await other.grants.revoke('g-live', now + 1);
      await nextTurn();
      expect(await storage.isAccessTokenRevoked('jti-unrelated', 'g-live', now + 1)).toBe(true);
      const live = await storage.revocations.live(now + 1, now - 60);
      expect(live.jtis).toContain('jti-live');
      expect(live.grantIds).toContain('g-live');
      expect((await storage.revocations.live(now + 600, now - 60)).jtis).not.toContain('jti-live');
      expect((await storage.revocations.live(now, now + 2)).grantIds).not.toContain('g-live');
    });
  });

  describe('DPoP bindings and pushed authorization requests', () => {
    it('keeps the DPoP key thumbprint of codes, refresh tokens and clients', async () => {
      const jkt = 'k'.repeat(43);
      await storage.authorizationCodes.create({ ...code('dpop-code', 'gd'), dpopJkt: jkt });
      await storage.refreshTokens.create({ ...refresh('dpop-rt', 'gd'), dpopJkt: jkt });
      expect((await storage.authorizationCodes.find('dpop-code'))?.dpopJkt).toBe(jkt);
      expect((await storage.refreshTokens.find('dpop-rt'))?.dpopJkt).toBe(jkt);
      expect((await storage.refreshTokens.find('race-rt'))?.dpopJkt ?? null).toBeNull();
      await storage.clients.save({
        ...client('strict-client'),
        requireDpop: true,
        requirePushedAuthorizationRequests: true,
      });
      expect(await other.clients.find('strict-client')).toMatchObject({
        requireDpop: true,
        requirePushedAuthorizationRequests: true,
      });
    });

    it("keeps the claims request of grants, codes and refresh tokens, and an opaque token's claims (0011_claims_request)", async () => {
      const claimsRequest = {
        id_token: { email: { essential: true }, acr: { values: ['urn:example:silver'] } },
        userinfo: { name: null, 'https://example.com/claims/tenant': { value: 'acme' } },
      };
      await storage.grants.create({ ...grant('g-claims'), claimsRequest });
      await storage.authorizationCodes.create({ ...code('claims-code', 'g-claims'), claimsRequest });
      await storage.refreshTokens.create({ ...refresh('claims-rt', 'g-claims'), claimsRequest });
      expect((await other.grants.find('g-claims'))?.claimsRequest).toEqual(claimsRequest);
      expect((await other.authorizationCodes.find('claims-code'))?.claimsRequest).toEqual(claimsRequest);
      const taken = await other.refreshTokens.consume('claims-rt', 'c', now);
      expect(taken?.claimsRequest).toEqual(claimsRequest);
      // Rows written without one read back without the field at all.
      await storage.grants.create(grant('g-no-claims'));
      expect(await storage.grants.find('g-no-claims')).not.toHaveProperty('claimsRequest');
      expect(await storage.refreshTokens.find('race-rt')).not.toHaveProperty('claimsRequest');

      const token = {
        tokenHash: 'at-claims',
        jti: 'jti-claims',
        grantId: null,
        clientId: 'c',
        subject: 'u',
        scope: 'orders.read',
        audience: ['orders-api'],
        authTime: null,
        roles: null,
        expiresAt: now + 600,
        createdAt: now,
        cnf: null,
        claims: { scp: ['orders.read'], email: 'ü@example.com', nested: { a: [1, true, null] } },
      };
      await storage.accessTokens.create(token);
      expect(await other.accessTokens.find('at-claims')).toEqual(token);
      expect(await storage.accessTokens.find('at-1')).not.toHaveProperty('claims');
    });

    it('uses a pushed request once, only for its client and before it expires', async () => {
      const parameters = { client_id: ['c'], scope: ['openid'], resource: ['https://a', 'https://b'] };
      const pushed = (hash: string, expiresAt = now + 60) =>
        storage.pushedAuthorizationRequests.create({
          requestUriHash: hash,
          clientId: 'c',
          parameters,
          expiresAt,
          createdAt: now,
        });
      await pushed('par-1');
      expect(await other.pushedAuthorizationRequests.consume('par-1', 'another', now)).toBeUndefined();
      expect(await other.pushedAuthorizationRequests.consume('par-1', 'c', now)).toEqual(parameters);
      expect(await storage.pushedAuthorizationRequests.consume('par-1', 'c', now)).toBeUndefined();
      await pushed('par-expired', now + 10);
      expect(await storage.pushedAuthorizationRequests.consume('par-expired', 'c', now + 10)).toBeUndefined();
      expect(await storage.pushedAuthorizationRequests.consume('par-missing', 'c', now)).toBeUndefined();

      await pushed('par-race');
      const pick = (index: number) => (index % 2 === 0 || backend === 'sqlite' ? storage : other);
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, index) =>
          pick(index).pushedAuthorizationRequests.consume('par-race', 'c', now + 1),
        ),
      );
      expect(results.filter((result) => result !== undefined)).toHaveLength(1);
    });
  });

  describe('expiry sweep', () => {
    it('deletes expired rows and keeps what reuse detection still needs', async () => {
      const base = now + 100_000;
      await storage.authorizationCodes.create({ ...code('sweep-code', 'gs'), expiresAt: base + 60 });
      await storage.refreshTokens.create({
        ...refresh('sweep-rt', 'gs'),
        expiresAt: base + 3600,
        absoluteExpiresAt: base + 3600,
      });
      // Expired for being idle, but its family lives on: kept so a replay is still seen as reuse.
      await storage.refreshTokens.create({
        ...refresh('sweep-rt-idle', 'gs'),
        expiresAt: base + 10,
        absoluteExpiresAt: base + 3600,
      });
      await storage.sessions.create(
        'sweep-session',
        { sid: 'sweep-sid', userId: 'u', authTime: base, amr: [], expiresAt: base + 3000 },
        base,
      );
      await storage.revocations.revokeJti('sweep-jti', base + 3000);
      await storage.knownBrowsers.remember('sweep-browser', 'u', base + 3000, base);
      await sweepExpired(storage, base + 61);
      expect(await storage.authorizationCodes.find('sweep-code')).toBeDefined();
      expect(await storage.refreshTokens.find('sweep-rt')).toBeDefined();
      expect(await storage.refreshTokens.find('sweep-rt-idle')).toBeDefined();
      expect(await storage.knownBrowsers.isKnown('sweep-browser', 'u', base + 61)).toBe(true);
      const deleted = await sweepExpired(storage, base + 3600 + 61);
      expect(deleted).toBeGreaterThanOrEqual(5);
      expect(await storage.authorizationCodes.find('sweep-code')).toBeUndefined();
      expect(await storage.refreshTokens.find('sweep-rt')).toBeUndefined();
      expect(await storage.refreshTokens.find('sweep-rt-idle')).toBeUndefined();
      expect((await storage.revocations.live(base, 0)).jtis).not.toContain('sweep-jti');
      expect(await databaseOf(storage).selectFrom('known_browsers').selectAll().execute()).not.toContainEqual(
        expect.objectContaining({ browser_hash: 'sweep-browser' }),
      );
      expect(await sweepExpired(storage, base + 3600 + 61)).toBe(0);
    });
  });
});

describe.each(backendNames)('upgrading a %s store to 0012_lifetimes_secrets', (backend: BackendName) => {
  it('turns the one secret hash into the first of the secrets and a refresh token expiry into its absolute one', async () => {
    if (backend === 'postgres') await requireService('postgres');
    const store = freshStore(backend);
    try {
      // Rows written by this release, then the store taken back to what the previous release left.
      const before = await openStorage(store.options);
      await before.clients.save({ ...client('legacy'), secrets: [{ hash: 'legacy-hash', expiresAt: null }] });
      await before.clients.save({ ...client('legacy-public'), secrets: [], tokenEndpointAuthMethod: 'none' });
      await before.grants.create(grant('g-legacy'));
      await before.refreshTokens.create(refresh('rt-legacy', 'g-legacy'));
      const db = databaseOf(before);
      await sql`alter table refresh_tokens drop column absolute_expires_at`.execute(db);
      await sql`alter table clients drop column secrets`.execute(db);
      await sql`alter table clients drop column refresh_token_lifetime`.execute(db);
      await sql`delete from gatehouse_migrations where name = '0012_lifetimes_secrets'`.execute(db);
      await before.close();

      const after = await openStorage(store.options);
      try {
        expect((await after.clients.find('legacy'))?.secrets).toEqual([
          { hash: 'legacy-hash', expiresAt: null },
        ]);
        expect((await after.clients.find('legacy'))?.refreshTokenLifetime).toEqual({
          absolute: null,
          idle: null,
        });
        expect((await after.clients.find('legacy-public'))?.secrets).toEqual([]);
        expect(await after.refreshTokens.find('rt-legacy')).toMatchObject({
          expiresAt: now + 3600,
          absoluteExpiresAt: now + 3600,
        });
      } finally {
        await after.close();
      }
    } finally {
      await store.drop();
    }
  });
});

describe('SQLite space after the sweep', () => {
  it('switches a file made without auto_vacuum to incremental once, keeping its rows, and hands pages back after a sweep', async () => {
    const { path } = freshStore('sqlite').options as { path: string };
    // A file as an earlier version left it: tables and rows, auto_vacuum off.
    const earlier = await openStorage({ type: 'sqlite', path });
    await earlier.close();
    const raw = new SqliteDatabase(path);
    raw.pragma('auto_vacuum = NONE');
    raw.exec('VACUUM');
    expect(raw.pragma('auto_vacuum', { simple: true })).toBe(0);
    raw.close();

    const storage = await openStorage({ type: 'sqlite', path });
    try {
      const pragma = async (name: string) =>
        Number(
          Object.values(
            (await sql.raw<Record<string, number>>(`PRAGMA ${name}`).execute(databaseOf(storage))).rows[0]!,
          )[0],
        );
      expect(await pragma('auto_vacuum')).toBe(2);
      // The change counters: clients, revocations, catalog.
      expect((await databaseOf(storage).selectFrom('gatehouse_changes').selectAll().execute()).length).toBe(
        3,
      );
      const pagesBefore = await pragma('page_count');
      for (let index = 0; index < 200; index++)
        await storage.sessions.create(
          `vacuum-${index}`,
          {
            sid: `vacuum-sid-${index}`,
            userId: 'x'.repeat(4000),
            authTime: now,
            amr: [],
            expiresAt: now + 10,
          },
          now,
        );
      expect(await pragma('page_count')).toBeGreaterThan(pagesBefore + 100);
      await sweepExpired(storage, now + 11);
      expect(await pragma('freelist_count')).toBe(0);
      expect(await pragma('page_count')).toBeLessThan(pagesBefore + 10);
    } finally {
      await storage.close();
    }
  });
});

describe('change versions', () => {
  it('are read in one statement a loop turn, shared by every topic’s cache', async () => {
    let reads = 0;
    const changes = oncePerTurn(async () => {
      reads += 1;
      return { clients: reads, revocations: 10 * reads, catalog: 100 * reads };
    });
    const versions = changeTopics.map((topic) => topicVersion(changes, topic));
    expect(await Promise.all(versions.map((version) => version()))).toEqual([1, 10, 100]);
    expect(await versions[2]!()).toBe(100);
    expect(reads).toBe(1);
    await nextTurn();
    expect(await Promise.all(versions.map((version) => version()))).toEqual([2, 20, 200]);
    expect(reads).toBe(2);
  });
});

describe('an unreachable or busy database', () => {
  it('is told apart from other errors: real SQLite lock, PostgreSQL refusal and SQL errors', async () => {
    const { path } = freshStore('sqlite').options as { path: string };
    const holder = new SqliteDatabase(path);
    const waiter = new SqliteDatabase(path);
    holder.exec('BEGIN IMMEDIATE');
    const busy = (() => {
      try {
        waiter.exec('BEGIN IMMEDIATE');
      } catch (error) {
        return error;
      }
    })();
    holder.exec('ROLLBACK');
    holder.close();
    waiter.close();
    expect(isTransientStorageError(busy)).toBe(true);
    await requireService('postgres');

    const refused = await new pg.Client({ host: '127.0.0.1', port: await closedPort() })
      .connect()
      .catch((error: unknown) => error);
    expect(isTransientStorageError(refused)).toBe(true);

    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    const divided = await client.query('SELECT 1 / 0').catch((error: unknown) => error);
    await client.end();
    expect((divided as { code?: string }).code).toBe('22012');
    expect(isTransientStorageError(divided)).toBe(false);
    expect(isTransientStorageError(new Error('boom'))).toBe(false);
    expect(isTransientStorageError(undefined)).toBe(false);
  });

  it('answers 503 temporarily_unavailable with Retry-After when the lock is not free in time', async () => {
    const server = await startServer();
    const path = (server.config.storage as { path: string }).path;
    const holder = new SqliteDatabase(path);
    try {
      holder.exec('BEGIN IMMEDIATE');
      // Starting an authorization writes its interaction: that waits for the lock, then gives up.
      const response = await server.app.inject({ url: codeRequest(pkcePair()) });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.body).not.toContain('SQLITE');
      holder.exec('ROLLBACK');
      expect((await server.app.inject({ url: codeRequest(pkcePair()) })).statusCode).toBe(303);
    } finally {
      holder.close();
      await server.close();
    }
  }, 30_000);
});

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
