/** Clients (RFC 7591 §2 metadata), one row each; lists and the authentication metadata are JSON text. */
import type { Client, ClientSecret } from '../../model.ts';
import type { ClientRepository } from '../ports.ts';
import type { ClientsTable } from '../schema.ts';
import { affected, type ChangeListener, type Db, inTransaction, json } from './db.ts';
import { clientFromRow, clientToRow } from './rows.ts';
import { compiledFindBy, updateOne, upsert } from './statements.ts';

const findClientById = compiledFindBy('clients', 'client_id');

export class SqlClientRepository implements ClientRepository {
  /** `changed` is called after every write, so caches of clients (storage/index.ts) can drop their copies. */
  constructor(
    private readonly db: Db,
    private readonly changed: ChangeListener,
  ) {}

  async find(clientId: string): Promise<Client | undefined> {
    const [row] = (await findClientById(this.db, { key: clientId })).rows;
    return row && clientFromRow(row);
  }

  async list(): Promise<Client[]> {
    const rows = await this.db.selectFrom('clients').selectAll().orderBy('client_id').execute();
    return rows.map(clientFromRow);
  }

  /** Inserts or replaces a client. */
  async save(client: Client): Promise<void> {
    await this.write((db) => upsert(db, 'clients', 'client_id', clientToRow(client)));
  }

  async updateSecrets(clientId: string, secrets: ClientSecret[]): Promise<boolean> {
    const changes = { secrets: json(secrets), secret_hash: secrets[0]?.hash ?? null };
    return this.update(clientId, changes);
  }

  async remove(clientId: string): Promise<boolean> {
    const result = await this.write((db) =>
      db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst(),
    );
    return affected(result) === 1;
  }

  setDisabled(clientId: string, at: number | null): Promise<boolean> {
    return this.update(clientId, { disabled_at: at });
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

  /** Sets `changes` on the client; false when there is no such client. */
  private update(clientId: string, changes: Partial<ClientsTable>): Promise<boolean> {
    return this.write((db) => updateOne(db, 'clients', changes, { client_id: clientId }));
  }

  /** Runs a write and announces it (whatever it changed), in one transaction. */
  private write<T>(statement: (db: Db) => Promise<T>): Promise<T> {
    return inTransaction(this.db, async (db) => {
      const result = await statement(db);
      await this.changed(db);
      return result;
    });
  }
}
