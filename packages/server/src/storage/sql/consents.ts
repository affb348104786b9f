/** Scopes a user consented to, one row per user and client. */
import { compiled } from '../compiled.ts';
import type { Consent, ConsentRepository } from '../ports.ts';
import { type Db, json, parseList } from './db.ts';

const findConsent = compiled((db, p: { userId: string; clientId: string }) =>
  db
    .selectFrom('consents')
    .select('scopes')
    .where('user_id', '=', p.userId)
    .where('client_id', '=', p.clientId),
);

export class SqlConsentRepository implements ConsentRepository {
  constructor(private readonly db: Db) {}

  async find(userId: string, clientId: string): Promise<string[]> {
    const [row] = (await findConsent(this.db, { userId, clientId })).rows;
    return row ? parseList(row.scopes) : [];
  }

  async save(userId: string, clientId: string, scopes: string[], now: number): Promise<void> {
    const values = { user_id: userId, client_id: clientId, scopes: json(scopes), updated_at: now };
    await this.db
      .insertInto('consents')
      .values(values)
      .onConflict((conflict) =>
        conflict.columns(['user_id', 'client_id']).doUpdateSet({ scopes: values.scopes, updated_at: now }),
      )
      .execute();
  }

  async listForUser(userId: string): Promise<Consent[]> {
    const rows = await this.db
      .selectFrom('consents')
      .select(['client_id', 'scopes', 'updated_at'])
      .where('user_id', '=', userId)
      .orderBy('client_id')
      .execute();
    return rows.map((row) => ({
      clientId: row.client_id,
      scopes: parseList(row.scopes),
      updatedAt: Number(row.updated_at),
    }));
  }

  async remove(userId: string, clientId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('consents')
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Forgets every consent given to a client (when the client is removed). */
  async removeForClient(clientId: string): Promise<void> {
    await this.db.deleteFrom('consents').where('client_id', '=', clientId).execute();
  }
}
