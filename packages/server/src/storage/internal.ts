/**
 * The Kysely instance behind an opened store, for code inside storage/ only (the sweep, and the test
 * accessor in testing.ts). The `Storage` interface does not expose it.
 */
import type { Kysely } from 'kysely';
import type { Storage } from './ports.ts';
import type { Database } from './schema.ts';

const databases = new WeakMap<Storage, Kysely<Database>>();

export function registerDatabase(storage: Storage, db: Kysely<Database>): void {
  databases.set(storage, db);
}

export function databaseOf(storage: Storage): Kysely<Database> {
  const db = databases.get(storage);
  if (db === undefined) throw new Error('not a store opened by openStorage');
  return db;
}
