/**
 * The real backends the storage tests run on: a fresh SQLite file, or a fresh schema in the PostgreSQL
 * database `test` at 127.0.0.1:5432 (trust auth), and a key prefix of its own in the Redis at
 * 127.0.0.1:6379. Each run gets its own schema and prefix, dropped afterwards, so runs never see each
 * other's rows. GATEHOUSE_TEST_POSTGRES and GATEHOUSE_TEST_REDIS point elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { postgresUrl, redisUrl } from '../../../tools/test-services.ts';
import type { StorageOptions } from '../src/storage/index.ts';

export { requireService } from '../../../tools/test-services.ts';
export { postgresUrl, redisUrl };

export type BackendName = 'sqlite' | 'postgres';
export const backendNames: BackendName[] = ['sqlite', 'postgres'];

/** A name no other run uses: a PostgreSQL schema or a Redis key prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** Storage options for a new, empty store on `backend`, and how to remove it afterwards. */
export function freshStore(backend: BackendName): { options: StorageOptions; drop(): Promise<void> } {
  if (backend === 'sqlite') {
    const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-storage-')), 'storage.db');
    return { options: { type: 'sqlite', path }, drop: async () => {} };
  }
  const schema = uniqueName('gh_test');
  return {
    options: { type: 'postgres', url: postgresUrl, schema },
    drop: () => dropSchema(schema),
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Deletes every Redis key under a prefix. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * A TCP relay on a loopback port in front of the backend at `url` (`defaultPort` when the URL names none),
 * so that a test can cut a server's connections to it: `cut()` closes the relay and every open connection.
 */
export async function backendRelay(
  url: string,
  defaultPort: number,
): Promise<{ port: number; cut(): Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const relay = createServer((inbound) => {
    const outbound = connect(Number(target.port || defaultPort), target.hostname);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => {});
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port } = relay.address() as { port: number };
  return {
    port,
    async cut() {
      const closed = new Promise((resolve) => relay.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
