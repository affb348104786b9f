/**
 * Signing keys encrypted at rest (keys/key-encryption.ts), on SQLite and PostgreSQL: what is stored, turning
 * encryption on over a store of plain keys, rotating the master secret, and every way a sealed key can fail
 * to open (no secret, an unknown secret, an altered value, a value moved to another key's row), each
 * stopping the start-up with an error that names the problem and never signing with anything.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyEncryption } from '../src/keys/key-encryption.ts';
import { KeyStore, type KeyStoreOptions } from '../src/keys/keystore.ts';
import { openStorage } from '../src/storage/index.ts';
import type { Storage } from '../src/storage/ports.ts';
import { sweepExpired } from '../src/storage/sweep.ts';
import { databaseOf } from '../src/storage/testing.ts';
import { signJwt } from '../src/tokens/jwt.ts';
import { type BackendName, backendNames, freshStore } from './backends.ts';
import { serviceTokenRequest, startServer } from './helpers.ts';

const t0 = 1_800_000_000;
const secretA = 'master-secret-A-0123456789abcdefghijklmnop';
const secretB = 'master-secret-B-0123456789abcdefghijklmnop';

function options(secrets?: string[]): KeyStoreOptions {
  return {
    algorithm: 'ES256',
    publishBeforeUse: 0,
    maxTokenLifetime: 960,
    reloadInterval: 10,
    rotateEvery: undefined,
    encryption: new KeyEncryption(secrets),
  };
}

function keyStore(storage: Storage, secrets?: string[]): KeyStore {
  return new KeyStore(storage.signingKeys, options(secrets), (work) =>
    storage.exclusive('signing-keys', (repositories) => work(repositories.signingKeys)),
  );
}

async function storedValues(storage: Storage): Promise<Map<string, string>> {
  const rows = await databaseOf(storage).selectFrom('signing_keys').select(['kid', 'private_jwk']).execute();
  return new Map(rows.map((row) => [row.kid, row.private_jwk]));
}

/** A token signed by the store's current key verifies against the store's JWKS. */
async function signsAndVerifies(keys: KeyStore): Promise<string> {
  const key = keys.signingKey(t0);
  const token = await signJwt(key, 'JWT', { sub: 'x', iat: t0 });
  const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks() as never), {
    currentDate: new Date(t0 * 1000),
  });
  return protectedHeader.kid as string;
}

describe('KeyEncryption', () => {
  it('seals with a fresh IV, opens with the kid it was sealed for, and keeps plain values readable', () => {
    const encryption = new KeyEncryption([secretA]);
    const first = encryption.seal('kid-1', '{"d":"secret"}');
    const second = encryption.seal('kid-1', '{"d":"secret"}');
    expect(first).not.toBe(second);
    expect(first).toMatch(/^gh-enc:v1:[\w-]{11}:[\w-]+:[\w-]+$/);
    expect(first).not.toContain('secret');
    expect(encryption.open('kid-1', first)).toBe('{"d":"secret"}');
    expect(encryption.open('kid-1', '{"d":"plain"}')).toBe('{"d":"plain"}');
    expect(() => encryption.open('kid-2', first)).toThrow(/signing key kid-2 does not decrypt/);
    expect(encryption.isCurrent(first)).toBe(true);
    expect(encryption.isCurrent('{"d":"plain"}')).toBe(false);
    expect(new KeyEncryption([secretB, secretA]).isCurrent(first)).toBe(false);
    expect(new KeyEncryption([secretB, secretA]).open('kid-1', first)).toBe('{"d":"secret"}');
    expect(() => new KeyEncryption([secretB]).open('kid-1', first)).toThrow(
      /sealed with a secret that keys.encryptionSecrets does not list/,
    );
    expect(() => new KeyEncryption(undefined).open('kid-1', first)).toThrow(
      /encrypted at rest; configure keys.encryptionSecrets/,
    );
    for (const altered of [
      `${first.slice(0, -2)}${first.endsWith('AA') ? 'BB' : 'AA'}`,
      first.replace(/:[\w-]+:([\w-]+)$/, ':AAAAAAAAAAAAAAAA:$1'),
      first.replace(/:[\w-]+$/, ':AAAA'),
      first.replace(/:[\w-]+$/, ''),
    ]) {
      expect(() => encryption.open('kid-1', altered)).toThrow(/signing key kid-1/);
    }
  });
});

describe.each(backendNames)('signing keys encrypted at rest on %s', (backend: BackendName) => {
  const stores: Array<ReturnType<typeof freshStore>> = [];
  const storages: Storage[] = [];
  async function open(): Promise<Storage> {
    const store = freshStore(backend);
    stores.push(store);
    const storage = await openStorage(store.options);
    storages.push(storage);
    return storage;
  }
  afterAll(async () => {
    for (const storage of storages) await storage.close();
    for (const store of stores) await store.drop();
  });

  it('stores new keys sealed, and signs with them after a restart', async () => {
    const storage = await open();
    const keys = keyStore(storage, [secretA]);
    await keys.initialise(t0);
    const kid = await signsAndVerifies(keys);
    const stored = (await storedValues(storage)).get(kid)!;
    expect(stored).toMatch(/^gh-enc:v1:/);
    expect(stored).not.toContain('"d"');
    const rotated = await keys.rotate(t0);
    expect((await storedValues(storage)).get(rotated.kid)).toMatch(/^gh-enc:v1:/);

    const restarted = keyStore(storage, [secretA]);
    await restarted.initialise(t0);
    expect(await signsAndVerifies(restarted)).toBe(kid);
    expect(restarted.signingKey(t0 + 60).kid).toBe(rotated.kid);
  });

  it('seals plain keys when a secret is configured, and moves every key to a new first secret', async () => {
    const storage = await open();
    const plain = keyStore(storage);
    await plain.initialise(t0);
    const kid = await signsAndVerifies(plain);
    expect((await storedValues(storage)).get(kid)).toContain('"d"');

    await keyStore(storage, [secretA]).initialise(t0);
    const underA = (await storedValues(storage)).get(kid)!;
    expect(underA).toMatch(/^gh-enc:v1:/);
    expect(new KeyEncryption([secretA]).isCurrent(underA)).toBe(true);

    const both = keyStore(storage, [secretB, secretA]);
    await both.initialise(t0);
    expect(await signsAndVerifies(both)).toBe(kid);
    expect(new KeyEncryption([secretB]).isCurrent((await storedValues(storage)).get(kid)!)).toBe(true);

    // The old secret can go once every key is sealed with the new one; the old one alone no longer opens them.
    const onlyB = keyStore(storage, [secretB]);
    await onlyB.initialise(t0);
    expect(await signsAndVerifies(onlyB)).toBe(kid);
    await expect(keyStore(storage, [secretA]).initialise(t0)).rejects.toThrow(
      `signing key ${kid} was sealed with a secret that keys.encryptionSecrets does not list`,
    );
    await expect(keyStore(storage).initialise(t0)).rejects.toThrow(/encrypted at rest/);
  });

  it('keeps a running node signing when a key appears that it cannot open, and refuses a value moved to another row', async () => {
    const storage = await open();
    const keys = keyStore(storage, [secretA]);
    await keys.initialise(t0);
    const first = keys.signingKey(t0).kid;
    // Another node, already given a new first secret, seals every key with it and rotates.
    const updated = keyStore(storage, [secretB, secretA]);
    await updated.initialise(t0);
    const second = (await updated.rotate(t0)).kid;
    await expect(keys.reload(t0)).rejects.toThrow(
      `signing key ${second} was sealed with a secret that keys.encryptionSecrets does not list`,
    );
    expect(await signsAndVerifies(keys)).toBe(first);

    const stored = await storedValues(storage);
    await storage.signingKeys.replacePrivateJwk(second, stored.get(first)!);
    await expect(keyStore(storage, [secretB, secretA]).initialise(t0)).rejects.toThrow(
      `signing key ${second} does not decrypt`,
    );
  });

  it('deletes a key from storage once it is no longer published', async () => {
    const storage = await open();
    const keys = keyStore(storage, [secretA]);
    await keys.initialise(t0);
    const old = keys.signingKey(t0).kid;
    await keys.rotate(t0);
    const { expires_at: expiresAt } = await databaseOf(storage)
      .selectFrom('signing_keys')
      .select('expires_at')
      .where('kid', '=', old)
      .executeTakeFirstOrThrow();
    await sweepExpired(storage, Number(expiresAt) - 1);
    expect((await storedValues(storage)).has(old)).toBe(true);
    await sweepExpired(storage, Number(expiresAt));
    expect((await storedValues(storage)).has(old)).toBe(false);
  });
});

describe('a server with keys.encryptionSecrets', () => {
  it('issues tokens signed with a sealed key, and does not start without the secret', async () => {
    const server = await startServer({ keys: { encryptionSecrets: [secretA] } });
    try {
      const response = await serviceTokenRequest(server);
      expect(response.status).toBe(200);
      const jwks = JSON.parse((await server.app.inject({ url: '/jwks' })).body);
      await jwtVerify(response.body.access_token as string, createLocalJWKSet(jwks), {
        audience: 'orders-api',
        currentDate: new Date(server.clock() * 1000),
      });
      const stored = await storedValues(server.ctx.storage);
      expect([...stored.values()].every((value) => value.startsWith('gh-enc:v1:'))).toBe(true);
    } finally {
      await server.close();
    }
    await expect(startServer({ storage: server.config.storage })).rejects.toThrow(/encrypted at rest/);
  });
});
