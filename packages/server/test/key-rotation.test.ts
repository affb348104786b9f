/**
 * Signing-key rotation across nodes (keys/keystore.ts), on SQLite and PostgreSQL: nodes starting together
 * agree on one first key; a scheduled rotation is done by one node however many try; and at every second
 * of a rotation, the key any node signs with is already in every node's JWKS, each node reloading on its
 * own timer. Three KeyStores on three connections stand for three nodes, with a simulated clock; the
 * server's own timer is checked separately through a real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyEncryption } from '../src/keys/key-encryption.ts';
import { KeyStore, type KeyStoreOptions } from '../src/keys/keystore.ts';
import { openStorage } from '../src/storage/index.ts';
import type { Storage } from '../src/storage/ports.ts';
import { databaseOf } from '../src/storage/testing.ts';
import { type BackendName, backendNames, freshStore } from './backends.ts';
import { startServer } from './helpers.ts';

const t0 = 1_800_000_000;
const options: KeyStoreOptions = {
  algorithm: 'ES256',
  // Shorter than the reload interval on purpose: the store must still wait until every node has reloaded.
  publishBeforeUse: 0,
  maxTokenLifetime: 960,
  reloadInterval: 10,
  rotateEvery: 3600,
  // Sealed at rest (keys/key-encryption.ts): every node opens what another node sealed.
  encryption: new KeyEncryption(['key-rotation-test-master-secret-0123456789']),
};
/** Each node's reload timer fires at a different offset within the interval. */
const offsets = [0, 3, 7];

describe.each(backendNames)('key rotation across nodes on %s', (backend: BackendName) => {
  const store = freshStore(backend);
  const storages: Storage[] = [];
  let nodes: KeyStore[];
  beforeAll(async () => {
    // SQLite: one connection shared (three in one thread would stall each other's locks; see storage.test).
    const count = backend === 'postgres' ? 3 : 1;
    for (let index = 0; index < count; index++) storages.push(await openStorage(store.options));
    nodes = offsets.map((_, index) => {
      const storage = storages[index % storages.length]!;
      return new KeyStore(storage.signingKeys, options, (work) =>
        storage.exclusive('signing-keys', (repositories) => work(repositories.signingKeys)),
      );
    });
  });
  afterAll(async () => {
    for (const storage of storages) await storage.close();
    await store.drop();
  });

  const keyCount = async () =>
    Number(
      (
        await databaseOf(storages[0]!)
          .selectFrom('signing_keys')
          .select((eb) => eb.fn.countAll().as('count'))
          .executeTakeFirstOrThrow()
      ).count,
    );

  it('creates one first key when the nodes start together', async () => {
    await Promise.all(nodes.map((node) => node.initialise(t0)));
    expect(await keyCount()).toBe(1);
    const kids = nodes.map((node) => node.signingKey(t0).kid);
    expect(new Set(kids).size).toBe(1);
  });

  it('rotates once however many nodes find the rotation due at the same moment', async () => {
    const due = t0 + 3600;
    const rotated = await Promise.all(nodes.map((node) => node.rotateIfDue(due)));
    expect(rotated.filter((record) => record !== undefined)).toHaveLength(1);
    expect(await keyCount()).toBe(2);
    expect(await nodes[0]!.rotateIfDue(due + 1)).toBeUndefined();
  });

  it('never signs, on any node, with a key another node does not publish yet', async () => {
    // Two more scheduled rotations, each node reloading (and trying to rotate) on its own timer.
    let checked = 0;
    for (const period of [2, 3]) {
      const start = t0 + period * 3600 - 15;
      for (let now = start; now < start + 60; now++) {
        await Promise.all(
          nodes.map(async (node, index) => {
            if (now === start || (now - offsets[index]!) % options.reloadInterval === 0) {
              await node.reload(now);
              await node.rotateIfDue(now);
            }
          }),
        );
        for (const signer of nodes) {
          const kid = signer.signingKey(now).kid;
          for (const publisher of nodes) {
            expect(publisher.jwks().keys.map((key) => (key as { kid: string }).kid)).toContain(kid);
            checked++;
          }
        }
      }
      // By the end of the window every node signs with the new key.
      const kids = nodes.map((node) => node.signingKey(start + 59).kid);
      expect(new Set(kids).size).toBe(1);
    }
    expect(checked).toBe(2 * 60 * 9);
    expect(await keyCount()).toBe(4);
  }, 60_000);
});

describe('scheduled rotation in a running server', () => {
  it('rotates on the reload timer once the newest key is rotateEvery old, publishing before signing', async () => {
    const server = await startServer({
      keys: { reloadInterval: 1, rotateEvery: 3600, publishBeforeUse: 60 },
    });
    try {
      const jwks = async () =>
        (JSON.parse((await server.app.inject({ url: '/jwks' })).body) as { keys: { kid: string }[] }).keys;
      const first = await jwks();
      expect(first).toHaveLength(1);
      server.clock.advance(3600);
      let keys = first;
      for (let attempt = 0; attempt < 100 && keys.length < 2; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        keys = await jwks();
      }
      expect(keys).toHaveLength(2);
      // Published now, but the old key keeps signing until publishBeforeUse has passed.
      expect(server.ctx.keys.signingKey(server.clock()).kid).toBe(first[0]!.kid);
      server.clock.advance(60);
      expect(server.ctx.keys.signingKey(server.clock()).kid).not.toBe(first[0]!.kid);
    } finally {
      await server.close();
    }
  });
});
