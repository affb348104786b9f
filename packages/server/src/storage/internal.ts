/**
 * The Kysely instance behind an opened store, and how it gives back the space of deleted rows, for code
 * inside storage/ only (the sweep, and the test accessor in testing.ts). The `Storage` interface does not
 * expose them.
 */
import type { Kysely } from 'kysely';
import type { Storage } from './ports.ts';
import type { Database } from './schema.ts';

const databases = new WeakMap<Storage, Kysely<Database>>();
const reclaims = new WeakMap<Storage, () => Promise<void>>();

export function registerDatabase(storage: Storage, db: Kysely<Database>): void {
  databases.set(storage, db);
}

export function databaseOf(storage: Storage): Kysely<Database> {
  const db = databases.get(storage);
  if (db === undefined) throw new Error('not a store opened by openStorage');
  return db;
}

/** What gives the store's free space back to the file system (SQLite); PostgreSQL's autovacuum does it. */
export function registerSpaceReclaim(storage: Storage, reclaim: () => Promise<void>): void {
  reclaims.set(storage, reclaim);
}

export async function reclaimSpace(storage: Storage): Promise<void> {
  await reclaims.get(storage)?.();
}
