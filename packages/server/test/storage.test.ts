import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../src/storage/index.ts';
import type { AuthorizationCode, RefreshToken } from '../src/storage/repositories.ts';

let storage: Storage;
beforeAll(async () => {
  storage = await openStorage({
    type: 'sqlite',
    path: join(mkdtempSync(join(tmpdir(), 'gatehouse-storage-')), 'storage.db'),
  });
});
afterAll(() => storage.close());

const now = 1_800_000_000;

function code(hash: string, grantId: string): AuthorizationCode {
  return {
    codeHash: hash,
    grantId,
    clientId: 'c',
    userId: 'u',
    redirectUri: 'https://app.example.com/cb',
    codeChallenge: 'x'.repeat(43),
    scope: ['openid'],
    resources: [],
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

function refresh(hash: string, grantId: string): RefreshToken {
  const { codeHash: _c, redirectUri: _r, codeChallenge: _cc, nonce: _n, ...handle } = code(hash, grantId);
  return { ...handle, tokenHash: hash, expiresAt: now + 3600 };
}

describe('SQLite storage', () => {
  it('runs in WAL mode with migrations applied', async () => {
    const tables = await storage.db.introspection.getTables();
    expect(tables.map((table) => table.name)).toEqual(
      expect.arrayContaining(['clients', 'grants', 'authorization_codes', 'refresh_tokens', 'signing_keys']),
    );
  });

  it('consumes a code exactly once, even under concurrent attempts', async () => {
    await storage.authorizationCodes.create(code('code-1', 'g1'));
    const results = await Promise.all(
      Array.from({ length: 20 }, () => storage.authorizationCodes.consume('code-1', now + 1)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await storage.authorizationCodes.find('code-1'))?.consumedAt).toBe(now + 1);
  });

  it('does not consume an expired code', async () => {
    await storage.authorizationCodes.create(code('code-2', 'g2'));
    expect(await storage.authorizationCodes.consume('code-2', now + 60)).toBe(false);
  });

  it('rotates a refresh token exactly once', async () => {
    await storage.refreshTokens.create(refresh('rt-1', 'g3'));
    expect(await storage.refreshTokens.consume('rt-1', now + 1)).toBe(true);
    expect(await storage.refreshTokens.consume('rt-1', now + 2)).toBe(false);
  });

  it('revokes a grant and every live code and refresh token of its family, and nothing else', async () => {
    await storage.grants.create({
      id: 'g4',
      clientId: 'c',
      userId: 'u',
      sid: 's',
      scopes: [],
      resources: [],
      createdAt: now,
      revokedAt: null,
    });
    await storage.refreshTokens.create(refresh('rt-2', 'g4'));
    await storage.refreshTokens.create(refresh('rt-3', 'g4'));
    await storage.authorizationCodes.create(code('code-3', 'g4'));
    await storage.refreshTokens.create(refresh('rt-other', 'g5'));
    await storage.transaction((repositories) => repositories.grants.revoke('g4', now + 5));
    expect((await storage.grants.find('g4'))?.revokedAt).toBe(now + 5);
    expect(await storage.refreshTokens.consume('rt-2', now + 6)).toBe(false);
    expect(await storage.refreshTokens.consume('rt-3', now + 6)).toBe(false);
    expect(await storage.authorizationCodes.consume('code-3', now + 6)).toBe(false);
    expect(await storage.refreshTokens.consume('rt-other', now + 6)).toBe(true);
  });

  it('rolls back a transaction that fails half way', async () => {
    await expect(
      storage.transaction(async (repositories) => {
        await repositories.refreshTokens.create(refresh('rt-rollback', 'g6'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await storage.refreshTokens.find('rt-rollback')).toBeUndefined();
  });

  it('finds only live login sessions', async () => {
    await storage.sessions.create(
      'session-hash',
      { sid: 'sid-1', userId: 'u', authTime: now, amr: ['pwd'], expiresAt: now + 100 },
      now,
    );
    expect((await storage.sessions.findActive('session-hash', now + 99))?.sid).toBe('sid-1');
    expect(await storage.sessions.findActive('session-hash', now + 100)).toBeUndefined();
    await storage.sessions.end('session-hash', now + 1);
    expect(await storage.sessions.findActive('session-hash', now + 2)).toBeUndefined();
  });

  it('completes an interaction once', async () => {
    const request = {
      clientId: 'c',
      redirectUri: 'x',
      scopes: [],
      resources: [],
      state: undefined,
      nonce: undefined,
      codeChallenge: 'x',
      prompt: [],
      maxAge: undefined,
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
    expect((await storage.interactions.findPending('i1', now))?.csrfToken).toBe('t');
    expect(await storage.interactions.findPending('i1', now + 10)).toBeUndefined();
    expect(await storage.interactions.complete('i1', now)).toBe(true);
    expect(await storage.interactions.complete('i1', now)).toBe(false);
  });

  it('refuses a duplicate username', async () => {
    const user = { id: 'u1', username: 'carol', passwordHash: 'h', claims: {}, roles: [] };
    expect(await storage.users.create(user, now)).toBe(true);
    expect(await storage.users.create({ ...user, id: 'u2' }, now)).toBe(false);
  });

  it('merges consent per client', async () => {
    await storage.consents.save('u', 'c', ['openid'], now);
    await storage.consents.save('u', 'c', ['openid', 'profile'], now);
    expect(await storage.consents.find('u', 'c')).toEqual(['openid', 'profile']);
    expect(await storage.consents.find('u', 'other')).toEqual([]);
  });
});

describe('expiry sweep', () => {
  it('deletes expired rows and keeps what reuse detection still needs', async () => {
    const { sweepExpired } = await import('../src/storage/sweep.ts');
    await storage.authorizationCodes.create(code('sweep-code', 'gs'));
    await storage.refreshTokens.create(refresh('sweep-rt', 'gs'));
    await sweepExpired(storage, now + 61);
    expect(await storage.authorizationCodes.find('sweep-code')).toBeDefined();
    expect(await storage.refreshTokens.find('sweep-rt')).toBeDefined();
    const deleted = await sweepExpired(storage, now + 3600 + 61);
    expect(deleted).toBeGreaterThanOrEqual(2);
    expect(await storage.authorizationCodes.find('sweep-code')).toBeUndefined();
    expect(await storage.refreshTokens.find('sweep-rt')).toBeUndefined();
  });
});
