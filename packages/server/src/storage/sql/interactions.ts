/** Pending login and consent steps; the validated authorization request is kept as JSON text. */
import type { Interaction } from '../../model.ts';
import type { InteractionRepository } from '../ports.ts';
import { affected, type Db } from './db.ts';
import { interactionFromRow, interactionToRow } from './rows.ts';

export class SqlInteractionRepository implements InteractionRepository {
  constructor(private readonly db: Db) {}

  async create(interaction: Interaction, now: number): Promise<void> {
    await this.db.insertInto('interactions').values(interactionToRow(interaction, now)).execute();
  }

  async findPending(id: string, now: number): Promise<Interaction | undefined> {
    const row = await this.db
      .selectFrom('interactions')
      .selectAll()
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row && interactionFromRow(row);
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
