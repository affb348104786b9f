/**
 * API scopes and API resources an operator added over the admin API (admin/api-catalog.ts). Every write
 * calls the change listener in its transaction, which on PostgreSQL bumps the `catalog` counter other
 * nodes read before they use their catalog (storage/index.ts).
 */
import type { ApiCatalogRepository, StoredApiResource, StoredApiScope } from '../ports.ts';
import { affected, type ChangeListener, type Db, hasNul, inTransaction, json } from './db.ts';
import { upsert } from './statements.ts';

export class SqlApiCatalogRepository implements ApiCatalogRepository {
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener,
  ) {}

  async scopes(): Promise<StoredApiScope[]> {
    const rows = await this.db.selectFrom('api_scopes').selectAll().orderBy('name').execute();
    return rows.map((row) => ({
      name: row.name,
      description: row.description,
      createdAt: Number(row.created_at),
    }));
  }

  async resources(): Promise<StoredApiResource[]> {
    const rows = await this.db.selectFrom('api_resources').selectAll().orderBy('id').execute();
    return rows.map((row) => ({
      id: row.id,
      definition: JSON.parse(row.definition) as Record<string, unknown>,
      secretHash: row.secret_hash,
      createdAt: Number(row.created_at),
    }));
  }

  async saveScope(scope: StoredApiScope): Promise<void> {
    const row = { name: scope.name, description: scope.description, created_at: scope.createdAt };
    await this.saved((db) => upsert(db, 'api_scopes', 'name', row));
  }

  async saveResource(resource: StoredApiResource): Promise<void> {
    const row = {
      id: resource.id,
      definition: json(resource.definition),
      secret_hash: resource.secretHash,
      created_at: resource.createdAt,
    };
    await this.saved((db) => upsert(db, 'api_resources', 'id', row));
  }

  async removeScope(name: string): Promise<boolean> {
    if (hasNul(name)) return false;
    return this.removed((db) => db.deleteFrom('api_scopes').where('name', '=', name).executeTakeFirst());
  }

  async removeResource(id: string): Promise<boolean> {
    if (hasNul(id)) return false;
    return this.removed((db) => db.deleteFrom('api_resources').where('id', '=', id).executeTakeFirst());
  }

  /** Runs an insert or replace and announces it. */
  private saved(save: (db: Db) => Promise<void>): Promise<void> {
    return inTransaction(this.db, async (db) => {
      await save(db);
      await this.changed(db);
    });
  }

  /** Runs a delete and announces it when it removed a row. */
  private removed(remove: (db: Db) => Promise<{ numDeletedRows: bigint }>): Promise<boolean> {
    return inTransaction(this.db, async (db) => {
      const removed = affected(await remove(db)) === 1;
      if (removed) await this.changed(db);
      return removed;
    });
  }
}
