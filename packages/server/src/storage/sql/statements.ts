/**
 * Statements the repositories run on many tables, written once over the table and column names (checked
 * against schema.ts by the signatures): select by a unique column (built per call, or compiled once for
 * the hot lookups), take a single-use row by DELETE ... RETURNING, insert unless the key is taken, insert
 * or replace, and conditional UPDATEs given as column values. The same Kysely calls run on SQLite and
 * PostgreSQL (both have RETURNING and ON CONFLICT).
 */
import type { DeleteResult, Insertable, Kysely, SelectQueryBuilder, UpdateResult } from 'kysely';
import { type CompiledRunner, compiled } from '../compiled.ts';
import type { Database } from '../schema.ts';
import type { RowMapping } from './columns.ts';
import { affected, type Db, hasNul } from './db.ts';

export type Table = keyof Database;

/** The text columns of `T` (nullable or not): those its rows are found by. */
export type TextColumn<T extends Table> = {
  [C in keyof Database[T]]-?: string extends Database[T][C] ? C : never;
}[keyof Database[T]] &
  string;

/** The tables whose rows expire (have an `expires_at` column). */
export type ExpiringTable = {
  [T in Table]: Database[T] extends { expires_at: number } ? T : never;
}[Table];

/**
 * The same connection with table and column names typed as plain strings: Kysely cannot check a query over
 * a table name that is a type parameter. Only this module uses it, behind signatures that check the names.
 */
function untyped(db: Db): Kysely<Record<string, LooseRow>> {
  return db as unknown as Kysely<Record<string, LooseRow>>;
}
type LooseRow = Record<string, unknown>;

/** The rows of `table` whose `column` is `value`; the caller adds its further conditions. */
export function selectBy<T extends Table>(
  db: Db,
  table: T,
  column: TextColumn<T>,
  value: string,
): SelectQueryBuilder<Database, T, Database[T]> {
  return rowsWhere(db, table, column, value) as unknown as SelectQueryBuilder<Database, T, Database[T]>;
}

/** The rows of `table` whose `column` is `value` and that have not expired by `now`. */
export function selectUnexpired<T extends ExpiringTable>(
  db: Db,
  table: T,
  column: TextColumn<T>,
  value: string,
  now: number,
): SelectQueryBuilder<Database, T, Database[T]> {
  const query = rowsWhere(db, table, column, value).where('expires_at', '>', now);
  return query as unknown as SelectQueryBuilder<Database, T, Database[T]>;
}

/**
 * The row of `table` whose unique `column` is `key`, as a statement built and compiled once (compiled.ts):
 * for the lookups every token or login request makes.
 */
export function compiledFindBy<T extends Table>(
  table: T,
  column: TextColumn<T>,
): CompiledRunner<{ key: string }, Database[T]> {
  const find = compiled((db, p: { key: string }) => rowsWhere(db, table, column, p.key));
  return find as unknown as CompiledRunner<{ key: string }, Database[T]>;
}

function rowsWhere(db: Db, table: string, column: string, value: string) {
  return untyped(db).selectFrom(table).selectAll().where(column, '=', value);
}

/** The first row `query` finds, mapped by `fromRow`; undefined when it finds none. */
export async function first<Row, Model>(
  query: { executeTakeFirst(): Promise<Row | undefined> },
  fromRow: (row: Row) => Model,
): Promise<Model | undefined> {
  const row = await query.executeTakeFirst();
  return row && fromRow(row);
}

/**
 * Deletes the row of `table` whose unique `column` is `value` and returns it, mapped by `fromRow`, unless it
 * had expired by `now`: one DELETE ... RETURNING, so of callers racing for the row exactly one gets it, once.
 * A value with NUL names nothing (PostgreSQL text cannot hold one).
 */
export async function takeUnexpired<T extends ExpiringTable, Model>(
  db: Db,
  table: T,
  column: TextColumn<T>,
  value: string,
  now: number,
  fromRow: (row: Database[T]) => Model,
): Promise<Model | undefined> {
  if (hasNul(value)) return undefined;
  const row = (await untyped(db)
    .deleteFrom(table as string)
    .where(column as string, '=', value)
    .returningAll()
    .executeTakeFirst()) as Database[T] | undefined;
  return row === undefined || Number(row.expires_at) <= now ? undefined : fromRow(row);
}

/**
 * A table of short-lived single-use records found by a hash (upstream sign-ins in flight, WebAuthn
 * challenges): `create` inserts one stamped with its creation time, `take` takes it once (takeUnexpired).
 */
export function singleUse<T extends ExpiringTable, Model>(
  table: T,
  key: TextColumn<T>,
  rows: RowMapping<Model, Omit<Database[T], 'created_at'>>,
) {
  return {
    async create(db: Db, model: Model, now: number): Promise<void> {
      const row = { ...rows.toRow(model), created_at: now };
      await untyped(db)
        .insertInto(table as string)
        .values(row as LooseRow)
        .execute();
    },
    take(db: Db, value: string, now: number): Promise<Model | undefined> {
      return takeUnexpired(db, table, key, value, now, rows.fromRow);
    },
  };
}

/** Conditions on a row of `T`: each column equals its value, or IS NULL for null. */
export type Where<T extends Table> = { [C in keyof Database[T]]?: Database[T][C] };

/** Sets `changes` on the rows of `table` that meet `where`; returns how many it changed. */
export async function updateAll<T extends Table>(
  db: Db,
  table: T,
  changes: Partial<Database[T]>,
  where: Where<T>,
): Promise<number> {
  return affected(await updateWhere(db, table, changes, where).executeTakeFirst());
}

/** Sets `changes` on the row of `table` that meets `where`; true when it changed exactly one row. */
export function updateOne<T extends Table>(
  db: Db,
  table: T,
  changes: Partial<Database[T]>,
  where: Where<T>,
): Promise<boolean> {
  return changedOne(updateWhere(db, table, changes, where));
}

function updateWhere<T extends Table>(db: Db, table: T, changes: Partial<Database[T]>, where: Where<T>) {
  const conditions = where as LooseRow;
  let query = untyped(db)
    .updateTable(table as string)
    .set(changes as LooseRow);
  for (const column in conditions) {
    const value = conditions[column];
    query = query.where(column, value === null ? 'is' : '=', value);
  }
  return query;
}

/** Inserts `row` unless a row with the same `conflict` columns exists; true when it inserted. */
export async function insertUnlessTaken<T extends Table>(
  db: Db,
  table: T,
  row: Insertable<Database[T]>,
  conflict: TextColumn<T> | TextColumn<T>[],
): Promise<boolean> {
  const columns: string[] = typeof conflict === 'string' ? [conflict] : conflict;
  const result = await untyped(db)
    .insertInto(table as string)
    .values(row as unknown as LooseRow)
    .onConflict((on) => on.columns(columns).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Inserts `row`, or replaces every other column of the row whose unique `key` column holds the same value. */
export async function upsert<T extends Table>(
  db: Db,
  table: T,
  key: TextColumn<T>,
  row: Insertable<Database[T]>,
) {
  const { [key]: _key, ...replacement } = row as unknown as LooseRow;
  await untyped(db)
    .insertInto(table as string)
    .values(row as unknown as LooseRow)
    .onConflict((on) => on.column(key as string).doUpdateSet(replacement))
    .execute();
}

/** True when the UPDATE or DELETE `statement` changed exactly one row. */
export async function changedOne(statement: {
  executeTakeFirst(): Promise<UpdateResult | DeleteResult>;
}): Promise<boolean> {
  return affected(await statement.executeTakeFirst()) === 1;
}
