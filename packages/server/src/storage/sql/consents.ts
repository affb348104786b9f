/** Scopes a user consented to, one row per user and client. */
import { compiled } from '../compiled.ts';
import type { ConsentRepository } from '../ports.ts';
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

  /** Forgets every consent given to a client (when the client is removed). */
  async removeForClient(clientId: string): Promise<void> {
    await this.db.deleteFrom('consents').where('client_id', '=', clientId).execute();
  }
}
