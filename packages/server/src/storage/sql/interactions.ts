/** Pending login and consent steps; the validated authorization request is kept as JSON text. */
import type { AuthorizationRequestRecord, Interaction } from '../../model.ts';
import type { InteractionRepository } from '../ports.ts';
import { affected, type Db, json } from './db.ts';

export class SqlInteractionRepository implements InteractionRepository {
  constructor(private readonly db: Db) {}

  async create(interaction: Interaction, now: number): Promise<void> {
    await this.db
      .insertInto('interactions')
      .values({
        id: interaction.id,
        csrf_token: interaction.csrfToken,
        browser_hash: interaction.browserHash,
        client_id: interaction.clientId,
        request: json(interaction.request),
        session_sid: interaction.sessionSid,
        expires_at: interaction.expiresAt,
        created_at: now,
        completed_at: null,
      })
      .execute();
  }

  async findPending(id: string, now: number): Promise<Interaction | undefined> {
    const row = await this.db
      .selectFrom('interactions')
      .selectAll()
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      csrfToken: row.csrf_token,
      browserHash: row.browser_hash,
      clientId: row.client_id,
      request: JSON.parse(row.request) as AuthorizationRequestRecord,
      sessionSid: row.session_sid,
      expiresAt: Number(row.expires_at),
      completedAt: row.completed_at === null ? null : Number(row.completed_at),
    };
  }

  async attachSession(id: string, sid: string): Promise<void> {
    await this.db.updateTable('interactions').set({ session_sid: sid }).where('id', '=', id).execute();
  }

  /** Marks the interaction finished; false when another request finished it first. */
  async complete(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('interactions')
      .set({ completed_at: now })
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .executeTakeFirst();
    return affected(result) === 1;
  }
}
