/** Clients (RFC 7591 §2 metadata), one row each; lists and the authentication metadata are JSON text. */
import type { Client, ClientSecret } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { ClientRepository } from '../ports.ts';
import { affected, type ChangeListener, type Db, inTransaction, json } from './db.ts';
import { clientFromRow, clientToRow } from './rows.ts';

const findClientById = compiled((db, p: { clientId: string }) =>
  db.selectFrom('clients').selectAll().where('client_id', '=', p.clientId),
);

export class SqlClientRepository implements ClientRepository {
  /** `changed` is called after every write, so caches of clients (storage/index.ts) can drop their copies. */
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener,
  ) {}

  async find(clientId: string): Promise<Client | undefined> {
    const [row] = (await findClientById(this.db, { clientId })).rows;
    return row && clientFromRow(row);
  }

  async list(): Promise<Client[]> {
    const rows = await this.db.selectFrom('clients').selectAll().orderBy('client_id').execute();
    return rows.map(clientFromRow);
  }

  /** Inserts or replaces a client. */
  async save(client: Client): Promise<void> {
    const row = clientToRow(client);
    await inTransaction(this.db, async (db) => {
      await db
        .insertInto('clients')
        .values(row)
        .onConflict((conflict) => conflict.column('client_id').doUpdateSet(row))
        .execute();
      await this.changed(db);
    });
  }

  async updateSecrets(clientId: string, secrets: ClientSecret[]): Promise<boolean> {
    const result = await inTransaction(this.db, async (db) => {
      const result = await db
        .updateTable('clients')
        .set({ secrets: json(secrets), secret_hash: secrets[0]?.hash ?? null })
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      await this.changed(db);
      return result;
    });
    return affected(result) === 1;
  }

  async remove(clientId: string): Promise<boolean> {
    const result = await inTransaction(this.db, async (db) => {
      const result = await db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
      await this.changed(db);
      return result;
    });
    return affected(result) === 1;
  }

  async setDisabled(clientId: string, at: number | null): Promise<boolean> {
    const result = await inTransaction(this.db, async (db) => {
      const result = await db
        .updateTable('clients')
        .set({ disabled_at: at })
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      await this.changed(db);
      return result;
    });
    return affected(result) === 1;
  }

  async registrationTokenHash(clientId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('clients')
      .select('registration_access_token_hash')
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row?.registration_access_token_hash ?? undefined;
  }

  async setRegistrationTokenHash(clientId: string, hash: string, previous: string | null): Promise<boolean> {
    const result = await this.db
      .updateTable('clients')
      .set({ registration_access_token_hash: hash })
      .where('client_id', '=', clientId)
      .where('registration_access_token_hash', previous === null ? 'is' : '=', previous)
      .executeTakeFirst();
    return affected(result) === 1;
  }
}
