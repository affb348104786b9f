/** Pending login and consent steps; the validated authorization request is kept as JSON text. */
import type { Interaction } from '../../model.ts';
import type { InteractionRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { interactionRows } from './rows.ts';
import { first, selectUnexpired, updateAll, updateOne } from './statements.ts';

export class SqlInteractionRepository implements InteractionRepository {
  constructor(private readonly db: Db) {}

  async create(interaction: Interaction, now: number): Promise<void> {
    await this.db
      .insertInto('interactions')
      .values({ ...interactionRows.toRow(interaction), created_at: now, completed_at: null })
      .execute();
  }

  findPending(id: string, now: number): Promise<Interaction | undefined> {
    const pending = selectUnexpired(this.db, 'interactions', 'id', id, now).where('completed_at', 'is', null);
    return first(pending, interactionRows.fromRow);
  }

  async attachSession(id: string, sid: string): Promise<void> {
    await updateAll(this.db, 'interactions', { session_sid: sid }, { id });
  }

  /** Marks the interaction finished; false when another request finished it first. */
  complete(id: string, now: number): Promise<boolean> {
    return updateOne(this.db, 'interactions', { completed_at: now }, { id, completed_at: null });
  }
}
