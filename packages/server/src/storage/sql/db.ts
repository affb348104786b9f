/**
 * What the SQL repositories share. The same code runs on SQLite and PostgreSQL: conditional UPDATEs and
 * ON CONFLICT are standard on both, booleans are stored as 0/1 integers, lists as JSON text, times as
 * integer seconds.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.ts';

export type Db = Kysely<Database> | Transaction<Database>;

/** Announces a write to cached data; called inside the write's transaction (storage/index.ts). */
export type ChangeListener = (db: Db) => void | Promise<void>;

/** Runs `work` in the caller's transaction, or in a new one. */
export function inTransaction<T>(db: Db, work: (db: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

export const json = (value: unknown) => JSON.stringify(value);
export const parseList = (text: string) => JSON.parse(text) as string[];
/** A nullable integer column as a number (PostgreSQL returns a bigint as a string); null stays null. */
export const numberOrNull = (value: number | null) => (value === null ? null : Number(value));
/** A nullable list column, JSON text; null stays null. */
export const listOrNull = (text: string | null) => (text === null ? null : parseList(text));
/** A nullable value as JSON text; null stays null. */
export const jsonOrNull = (value: unknown) => (value === null ? null : json(value));
/** PostgreSQL text cannot hold NUL (it fails the query): a value with one names nothing, on either database. */
export const hasNul = (...values: string[]) => values.some((value) => value.includes('\u0000'));
export const affected = (result: { numUpdatedRows: bigint } | { numDeletedRows: bigint }) =>
  Number('numUpdatedRows' in result ? result.numUpdatedRows : result.numDeletedRows);
