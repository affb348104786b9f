/**
 * Compiled queries (storage/compiled.ts) on SQLite and PostgreSQL: compiled once per store, run with each
 * call's values, undefined bound as NULL, and a call with other parameters than the compiling one refused
 * rather than run with a value dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiled } from '../src/storage/compiled.ts';
import { openStorage } from '../src/storage/index.ts';
import type { Storage } from '../src/storage/ports.ts';
import type { Db } from '../src/storage/sql/db.ts';
import { databaseOf } from '../src/storage/testing.ts';
import { type BackendName, backendNames, freshStore } from './backends.ts';

describe.each(backendNames)('compiled queries on %s', (backend: BackendName) => {
  const store = freshStore(backend);
  let storage: Storage;
  let db: Db;
  beforeAll(async () => {
    storage = await openStorage(store.options);
    db = databaseOf(storage);
  });
  afterAll(async () => {
    await storage.close();
    await store.drop();
  });

  const insert = compiled((db, row: { id: string; client_id: string; user_id: string; sid: string | null }) =>
    db
      .insertInto('grants')
      .values({ ...row, scopes: '[]', resources: '[]', created_at: 1, revoked_at: null }),
  );
  const find = compiled((db, p: { id: string }) =>
    db.selectFrom('grants').selectAll().where('id', '=', p.id),
  );

  it('runs with each call’s values and binds undefined as NULL', async () => {
    await insert(db, { id: 'g1', client_id: 'c', user_id: 'u', sid: 's' });
    await insert(db, { id: 'g2', client_id: 'c', user_id: 'u', sid: undefined as unknown as null });
    expect((await find(db, { id: 'g1' })).rows[0]).toMatchObject({ id: 'g1', sid: 's' });
    expect((await find(db, { id: 'g2' })).rows[0]).toMatchObject({ id: 'g2', sid: null });
    expect((await find(db, { id: 'none' })).rows).toEqual([]);
  });

  it('refuses a call whose parameters differ from the compiling call', async () => {
    await expect(find(db, { id: 'g1', extra: 'x' } as { id: string })).rejects.toThrow(/other parameters/);
    await expect(find(db, { other: 'g1' } as unknown as { id: string })).rejects.toThrow(
      /parameter id is missing/,
    );
    const computed = compiled((db, p: { id: string }) =>
      db
        .selectFrom('grants')
        .selectAll()
        .where('id', '=', `prefix-${String(p.id)}`),
    );
    await expect(computed(db, { id: 'g1' })).rejects.toThrow(/id not passed to the query as values/);
  });
});
